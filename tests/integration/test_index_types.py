"""An existing target's own index keys are checked on every item before the first write (issue 11, class 2).

The backup (of the ledger, which has no indexes) holds `status` as a string; a target that
indexes `status` (or `pages`) with another type would refuse those items mid-restore with
"Type mismatch for Index Key". The verify pass sees every item, so it refuses first.
"""

import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pytest

import backup_handler
import restore_handler
from devtools.sample_events import scheduled_event
from devtools.tables import create_table, load_items
from ledger_backup.backup.run import run_backup
from ledger_backup.errors import CorruptBackup
from ledger_backup.restore.run import dry_run, start_restore
from ledger_backup.sources import open_source
from ledger_backup.storage.stores import S3Store

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_s3 import S3Client

pytestmark = pytest.mark.integration


@pytest.fixture
def backup_key(ledger_table: str, function_env: Callable[[str], None], context: Any) -> str:
    function_env(ledger_table)
    result: dict[str, Any] = backup_handler.handler(scheduled_event(), context)
    return str(result["s3_key"])


def _gsi_target(dynamodb: "DynamoDBClient", name: str) -> None:
    create_table(
        dynamodb,
        name,
        hash_key="book_id",
        AttributeDefinitions=[{"AttributeName": "status", "AttributeType": "N"}],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "by-status",
                "KeySchema": [{"AttributeName": "status", "KeyType": "HASH"}],
                "Projection": {"ProjectionType": "KEYS_ONLY"},
            }
        ],
    )


def test_a_gsi_key_of_another_type_is_refused_before_any_write(
    dynamodb: "DynamoDBClient", ledger_table: str, backup_key: str, context: Any
) -> None:
    target = f"{ledger_table}-indexed"
    _gsi_target(dynamodb, target)
    expected = "attribute status: index by-status (GSI) needs type N, the item has S"
    event = {"s3_key": backup_key, "target_table": target}

    report = restore_handler.handler({**event, "dry_run": True}, context)
    assert report["status"] == "corrupt"
    assert expected in report["problems"][0]
    assert ", item 1: " in report["problems"][0]  # names the file and the item's position

    with pytest.raises(CorruptBackup, match=re.escape(expected)):
        restore_handler.handler(event, context)
    assert dynamodb.scan(TableName=target, Select="COUNT")["Count"] == 0


def test_a_target_whose_indexes_fit_is_restored(
    dynamodb: "DynamoDBClient", ledger_table: str, backup_key: str, context: Any
) -> None:
    target = f"{ledger_table}-indexed"
    create_table(
        dynamodb,
        target,
        hash_key="book_id",
        AttributeDefinitions=[{"AttributeName": "status", "AttributeType": "S"}],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "by-status",
                "KeySchema": [{"AttributeName": "status", "KeyType": "HASH"}],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
    )
    result = restore_handler.handler({"s3_key": backup_key, "target_table": target}, context)
    assert result["status"] == "complete"
    assert dynamodb.scan(TableName=target, Select="COUNT")["Count"] == result["items_restored"] > 0


def test_an_lsi_key_of_another_type_is_refused_before_any_write(
    dynamodb: "DynamoDBClient", s3: "S3Client", bucket: str, unique_name: str
) -> None:
    """An LSI needs a sort key, so this one is a two-key table, restored through the core."""
    source = f"books-{unique_name}"
    two_keys = {
        "KeySchema": [{"AttributeName": "part", "KeyType": "RANGE"}],
        "AttributeDefinitions": [{"AttributeName": "part", "AttributeType": "N"}],
    }
    create_table(dynamodb, source, hash_key="book_id", **two_keys)
    items = [{"book_id": {"S": f"b{n}"}, "part": {"N": str(n)}, "status": {"S": "ok"}} for n in range(30)]
    load_items(dynamodb, source, items)
    store = S3Store(s3, bucket)
    manifest_key = run_backup(dynamodb, store, source).manifest_key
    target = f"{source}-indexed"
    create_table(
        dynamodb,
        target,
        hash_key="book_id",
        KeySchema=two_keys["KeySchema"],
        AttributeDefinitions=[
            *two_keys["AttributeDefinitions"],
            {"AttributeName": "status", "AttributeType": "B"},
        ],
        LocalSecondaryIndexes=[
            {
                "IndexName": "by-status-local",
                "KeySchema": [
                    {"AttributeName": "book_id", "KeyType": "HASH"},
                    {"AttributeName": "status", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "KEYS_ONLY"},
            }
        ],
    )
    expected = "attribute status: index by-status-local (LSI) needs type B, the item has S"
    report = dry_run(dynamodb, open_source(store, manifest_key), target)
    assert not report.ok
    assert expected in report.report.problems[0]
    with pytest.raises(CorruptBackup, match=re.escape(expected)):
        start_restore(dynamodb, open_source(store, manifest_key), target)
    assert dynamodb.scan(TableName=target, Select="COUNT")["Count"] == 0
