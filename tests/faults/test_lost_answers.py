"""Faults botocore's retries cannot hide: answers lost after the request took effect, bodies cut short.

A lost answer makes botocore send the request again, so a write that is not idempotent
meets its own first attempt (a conditional put gets 412, CreateTable gets
ResourceInUseException). A download that breaks off after the headers is not retried by
botocore at all. The code has to handle both itself.
"""

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

import backup_handler
import restore_handler
from devtools.fault_proxy import Fault, FaultPolicy
from devtools.sample_events import scheduled_event
from devtools.tables import create_table, load_items, scan_all
from ledger_backup.aws.clients import dynamodb_client
from ledger_backup.backup.run import BackupOptions, run_backup
from ledger_backup.catalog import list_backups
from ledger_backup.restore.run import run_restore
from ledger_backup.storage.stores import LocalStore, S3Store
from tests.faults.conftest import LEDGER_BOOKS, Proxies, manifest_put_fault

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_s3 import S3Client

pytestmark = pytest.mark.integration

logger = logging.getLogger(__name__)


def test_a_lost_answer_to_the_manifest_write_does_not_fail_a_complete_backup(
    s3: "S3Client", ledger_table: str, function_env: str, proxies: Proxies, context: Any
) -> None:
    """S3 stored the manifest but the answer was lost; botocore's retry then meets If-None-Match: 412."""
    # The three segments' data files get through; the fourth PutObject is the manifest.
    proxies.inject(s3=manifest_put_fault(Fault.DROP_AFTER_FORWARD, limit=1, unsafe_drops=True))
    result = backup_handler.handler(scheduled_event(), context)
    assert proxies.s3.injected == {Fault.DROP_AFTER_FORWARD: 1}
    assert result["status"] == "complete"
    assert result["item_count"] == LEDGER_BOOKS
    backups = list_backups(S3Store(s3, function_env), "backups/", ledger_table)
    assert [b.manifest_key for b in backups] == [result["s3_key"]]


def test_a_lost_answer_to_create_table_is_checked_like_an_existing_target(
    dynamodb: "DynamoDBClient", unique_name: str, tmp_path: Path, proxies: Proxies
) -> None:
    """The retried CreateTable meets a table it cannot tell from someone else's, so it is not "created".

    Its keys and emptiness are checked like any existing target's, and its TTL is left as it is.
    """
    source = f"ttl-{unique_name}"
    create_table(dynamodb, source)
    dynamodb.update_time_to_live(
        TableName=source, TimeToLiveSpecification={"Enabled": True, "AttributeName": "expires"}
    )
    load_items(dynamodb, source, [{"pk": {"S": f"k{n}"}, "expires": {"N": "4102444800"}} for n in range(30)])
    store = LocalStore(tmp_path)
    backup = run_backup(dynamodb, store, source, options=BackupOptions(total_segments=1))
    proxies.inject(
        FaultPolicy(
            rates={Fault.DROP_AFTER_FORWARD: 1.0},
            operations=frozenset({"CreateTable"}),
            limit=1,
            unsafe_drops=True,
        )
    )
    target = f"{source}-restored"
    result = run_restore(dynamodb_client(), store, backup.manifest_key, target)
    assert proxies.dynamodb.injected == {Fault.DROP_AFTER_FORWARD: 1}
    assert result.items_restored == 30
    assert scan_all(dynamodb, target) == scan_all(dynamodb, source)
    assert not result.table_created
    ttl = dynamodb.describe_time_to_live(TableName=target)["TimeToLiveDescription"]
    assert ttl.get("TimeToLiveStatus") == "DISABLED"


def test_restore_survives_downloads_that_break_off_mid_body(
    dynamodb: "DynamoDBClient",
    s3: "S3Client",
    ledger_table: str,
    function_env: str,
    proxies: Proxies,
    context: Any,
) -> None:
    options = BackupOptions(total_segments=3, page_size=20, max_file_bytes=32 * 1024)
    backup = run_backup(dynamodb, S3Store(s3, function_env), ledger_table, options=options)
    proxies.inject(s3=FaultPolicy(rates={Fault.TRUNCATED_BODY: 0.3}, seed=11))
    target = f"{ledger_table}-restored"
    try:
        restored = restore_handler.handler({"s3_key": backup.manifest_key, "target_table": target}, context)
    finally:
        logger.warning("truncated downloads: %s", proxies.report())
    assert proxies.s3.injected[Fault.TRUNCATED_BODY] > 0
    assert restored["items_restored"] == LEDGER_BOOKS
    assert scan_all(dynamodb, target, "book_id") == scan_all(dynamodb, ledger_table, "book_id")
