"""Every refusal happens before the first write, with one message that names the problem."""

import gzip
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pytest

import backup_handler
import restore_handler
from devtools.sample_events import scheduled_event
from devtools.tables import create_table, load_items
from ledger_backup.errors import (
    BackupNotFound,
    CorruptBackup,
    IncompleteBackup,
    InvalidRequest,
    SchemaMismatch,
    TableNotFound,
)
from runtime.settings import ConfigurationError

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_s3 import S3Client

pytestmark = pytest.mark.integration


@pytest.fixture
def backup(ledger_table: str, function_env: Callable[[str], None], context: Any) -> dict[str, Any]:
    function_env(ledger_table)
    result: dict[str, Any] = backup_handler.handler(scheduled_event(), context)
    return result


def table_exists(dynamodb: "DynamoDBClient", name: str) -> bool:
    return name in dynamodb.list_tables()["TableNames"]


def test_missing_table_fails_the_backup_without_a_manifest(
    s3: "S3Client", bucket: str, unique_name: str, function_env: Callable[[str], None], context: Any
) -> None:
    function_env(f"nope-{unique_name}")
    with pytest.raises(TableNotFound, match=f"table 'nope-{unique_name}' does not exist in region us-east-1"):
        backup_handler.handler(scheduled_event(), context)
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket)


def test_missing_backup(backup: dict[str, Any], context: Any) -> None:
    table = backup["table"]
    with pytest.raises(BackupNotFound, match=f"no backup at s3://.*/backups/{table}/1999"):
        restore_handler.handler(
            {"s3_key": f"backups/{table}/1999/manifest.json", "target_table": table + "-r"}, context
        )


def test_backup_without_manifest_is_incomplete_and_refused(
    dynamodb: "DynamoDBClient", s3: "S3Client", backup: dict[str, Any], context: Any
) -> None:
    s3.delete_object(Bucket=backup["bucket"], Key=backup["s3_key"])
    with pytest.raises(IncompleteBackup, match=r"has no manifest\.json: it never finished"):
        restore_handler.handler({"s3_key": backup["s3_key"], "target_table": backup["table"] + "-r"}, context)
    assert not table_exists(dynamodb, backup["table"] + "-r")


def test_missing_target_without_create_table(
    dynamodb: "DynamoDBClient", backup: dict[str, Any], context: Any
) -> None:
    target = backup["table"] + "-absent"
    with pytest.raises(TableNotFound, match=f"target table '{target}' does not exist; set create_table"):
        restore_handler.handler(
            {"s3_key": backup["s3_key"], "target_table": target, "create_table": False}, context
        )
    assert not table_exists(dynamodb, target)


def test_key_schema_mismatch(dynamodb: "DynamoDBClient", backup: dict[str, Any], context: Any) -> None:
    target = backup["table"] + "-otherkeys"
    create_table(dynamodb, target, hash_key="id")
    with pytest.raises(
        SchemaMismatch, match=r"has key schema id \(S, HASH\) but the backup's is book_id \(S, HASH\)"
    ):
        restore_handler.handler(
            {"s3_key": backup["s3_key"], "target_table": target, "overwrite": True}, context
        )
    assert dynamodb.scan(TableName=target)["Count"] == 0


def test_non_empty_target_is_left_untouched(
    dynamodb: "DynamoDBClient", backup: dict[str, Any], context: Any
) -> None:
    target = backup["table"] + "-busy"
    create_table(dynamodb, target, hash_key="book_id")
    load_items(dynamodb, target, [{"book_id": {"S": "someone-elses"}}])
    with pytest.raises(Exception, match="already holds items"):
        restore_handler.handler({"s3_key": backup["s3_key"], "target_table": target}, context)
    assert dynamodb.scan(TableName=target)["Count"] == 1


def test_changed_byte_is_refused_before_any_write(
    dynamodb: "DynamoDBClient", s3: "S3Client", backup: dict[str, Any], context: Any
) -> None:
    folder = backup["s3_key"].removesuffix("manifest.json")
    data_keys = [
        o["Key"] for o in s3.list_objects_v2(Bucket=backup["bucket"], Prefix=folder + "data/")["Contents"]
    ]
    last = sorted(data_keys)[-1]  # damage the LAST file: a streaming restore would have written the others
    lines = gzip.decompress(s3.get_object(Bucket=backup["bucket"], Key=last)["Body"].read())
    tampered = lines.replace(b'"S":"v3"', b'"S":"v4"', 1)
    assert tampered != lines
    s3.put_object(Bucket=backup["bucket"], Key=last, Body=gzip.compress(tampered))
    target = backup["table"] + "-r"
    with pytest.raises(CorruptBackup, match="checksum mismatch"):
        restore_handler.handler({"s3_key": backup["s3_key"], "target_table": target}, context)
    assert not table_exists(dynamodb, target)


def test_truncated_file_is_refused_before_any_write(
    dynamodb: "DynamoDBClient", s3: "S3Client", backup: dict[str, Any], context: Any
) -> None:
    folder = backup["s3_key"].removesuffix("manifest.json")
    key = sorted(
        o["Key"] for o in s3.list_objects_v2(Bucket=backup["bucket"], Prefix=folder + "data/")["Contents"]
    )[-1]
    raw = s3.get_object(Bucket=backup["bucket"], Key=key)["Body"].read()
    s3.put_object(Bucket=backup["bucket"], Key=key, Body=raw[: len(raw) - 100])
    with pytest.raises(CorruptBackup, match="damaged or truncated"):
        restore_handler.handler({"s3_key": backup["s3_key"], "target_table": backup["table"] + "-r"}, context)
    assert not table_exists(dynamodb, backup["table"] + "-r")


def test_target_outside_the_ledger_names_is_refused(backup: dict[str, Any], context: Any) -> None:
    with pytest.raises(InvalidRequest, match="target_table 'payments' is not allowed"):
        restore_handler.handler({"s3_key": backup["s3_key"], "target_table": "payments"}, context)


def test_key_outside_the_backup_prefix_is_refused(backup: dict[str, Any], context: Any) -> None:
    for key in ("secrets/manifest.json", "backups/../secrets/manifest.json"):
        with pytest.raises(InvalidRequest, match="outside the backup prefix"):
            restore_handler.handler({"s3_key": key, "target_table": backup["table"] + "-r"}, context)


def test_bad_event_is_refused(backup: dict[str, Any], context: Any) -> None:
    with pytest.raises(InvalidRequest, match="target_table: Field required"):
        restore_handler.handler({"s3_key": backup["s3_key"]}, context)


def test_unconfigured_function_says_which_setting_is_missing(
    monkeypatch: pytest.MonkeyPatch, local_services: Any, context: Any
) -> None:
    monkeypatch.delenv("BACKUP_BUCKET", raising=False)
    monkeypatch.setenv("TABLE_NAME", "ledger")
    with pytest.raises(ConfigurationError, match="environment variable BACKUP_BUCKET is not set"):
        backup_handler.handler(scheduled_event(), context)
