"""Backup and restore through 25 % injected faults lose nothing; faults beyond retrying fail loudly.

The code under test reaches DynamoDB Local and the S3 server only through the fault
proxies; the checks read the tables and the bucket directly, past the proxies.
"""

import logging
import time
from typing import TYPE_CHECKING, Any

import pytest
from botocore.exceptions import ClientError

import backup_handler
import restore_handler
from devtools.fault_proxy import DYNAMODB_FAULTS, S3_FAULTS, Fault, FaultPolicy
from devtools.sample_events import scheduled_event
from devtools.tables import scan_all
from ledger_backup.aws.clients import dynamodb_client, s3_client
from ledger_backup.backup.run import BackupOptions, run_backup
from ledger_backup.catalog import list_backups, load_backup
from ledger_backup.codec import decode_line
from ledger_backup.errors import IncompleteBackup
from ledger_backup.sources.ledger import read_lines
from ledger_backup.storage.stores import S3Store
from tests.faults.conftest import LEDGER_BOOKS, Proxies, manifest_put_fault

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_s3 import S3Client

pytestmark = pytest.mark.integration

logger = logging.getLogger(__name__)

FAULT_RATE = 0.25
# Small pages and small files make many requests (for 600 books about 25 Scans, 24 PutObjects,
# 50 GetObjects and 24 BatchWriteItems, plus retries), so every fault kind lands, most of them several times.
MANY_REQUESTS = BackupOptions(total_segments=4, page_size=25, max_file_bytes=32 * 1024)


def backed_up_items(s3: "S3Client", bucket: str, manifest_key: str) -> dict[str, Any]:
    """Every item the backup's manifest lists, read directly from the bucket (checksums verified)."""
    store = S3Store(s3, bucket)
    backup = load_backup(store, manifest_key)
    items: dict[str, Any] = {}
    for entry in backup.manifest.files:
        for line in read_lines(store, backup.folder, entry):
            item = decode_line(line)
            assert item["book_id"]["S"] not in items, "an item is in the backup twice"
            items[item["book_id"]["S"]] = item
    return items


def test_backup_and_restore_lose_nothing_under_25_percent_faults(
    dynamodb: "DynamoDBClient",
    s3: "S3Client",
    ledger_table: str,
    function_env: str,
    proxies: Proxies,
    context: Any,
) -> None:
    source = scan_all(dynamodb, ledger_table, "book_id")
    proxies.inject(FaultPolicy(rate=FAULT_RATE, seed=5), FaultPolicy(rate=FAULT_RATE, seed=6))

    started = time.monotonic()
    backup = run_backup(
        dynamodb_client(), S3Store(s3_client(), function_env), ledger_table, options=MANY_REQUESTS
    )
    backed_up = time.monotonic()
    after_backup = proxies.report()
    target = f"{ledger_table}-restored"
    restored = restore_handler.handler({"s3_key": backup.manifest_key, "target_table": target}, context)
    logger.warning(
        "%.0f %% faults: backup %.1f s, %s; restore %.1f s, totals %s",
        FAULT_RATE * 100,
        backed_up - started,
        after_backup,
        time.monotonic() - backed_up,
        proxies.report(),
    )

    assert len(source) == LEDGER_BOOKS
    assert backup.item_count == restored["items_restored"] == LEDGER_BOOKS
    assert backed_up_items(s3, function_env, backup.manifest_key) == source
    assert scan_all(dynamodb, target, "book_id") == source
    assert {kind: proxies.dynamodb.injected[kind] > 0 for kind in DYNAMODB_FAULTS} == dict.fromkeys(
        DYNAMODB_FAULTS, True
    )
    assert {kind: proxies.s3.injected[kind] > 0 for kind in S3_FAULTS} == dict.fromkeys(S3_FAULTS, True)
    for proxy in (proxies.dynamodb, proxies.s3):
        faults, requests = proxy.injected.total(), proxy.requests.total()
        assert 0.12 < faults / requests < 0.38, proxy.summary()  # the rate asked for, give or take


@pytest.mark.usefixtures("short_backoff")
def test_scans_failing_past_the_retry_budget_fail_the_backup_with_no_manifest(
    s3: "S3Client", ledger_table: str, function_env: str, proxies: Proxies, context: Any
) -> None:
    """One segment's Scan gets through, then every Scan answers 500 until botocore gives up."""
    proxies.inject(
        FaultPolicy(rates={Fault.INTERNAL_SERVER_ERROR: 1.0}, operations=frozenset({"Scan"}), after=1)
    )
    with pytest.raises(ClientError, match=r"InternalServerError.*reached max retries: 9"):
        backup_handler.handler(scheduled_event(), context)
    logger.warning("retry budget exceeded: %s", proxies.report())

    assert proxies.dynamodb.injected[Fault.INTERNAL_SERVER_ERROR] >= 10  # all 10 attempts of a Scan
    store = S3Store(s3, function_env)
    assert list_backups(store, "backups/", ledger_table) == []
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=function_env).get("Contents", [])]
    assert not [k for k in keys if k.endswith("manifest.json")]
    assert keys == []  # the finished segment's data file was removed too


@pytest.mark.usefixtures("short_backoff")
def test_manifest_write_failing_past_the_retry_budget_leaves_an_incomplete_backup(
    s3: "S3Client", ledger_table: str, function_env: str, proxies: Proxies, context: Any
) -> None:
    """Every data file is written, then S3 refuses the manifest: the backup must not look complete."""
    proxies.inject(s3=manifest_put_fault(Fault.S3_INTERNAL_ERROR))  # the 3 data files get through
    with pytest.raises(ClientError, match=r"InternalError.*reached max retries: 9"):
        backup_handler.handler(scheduled_event(), context)
    logger.warning("manifest write refused: %s", proxies.report())

    store = S3Store(s3, function_env)
    assert list_backups(store, "backups/", ledger_table) == []
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=function_env).get("Contents", [])]
    assert keys  # the data files are there...
    assert not [k for k in keys if k.endswith("manifest.json")]  # ...but nothing says they are complete
    folder = keys[0].split("data/")[0]
    proxies.inject()
    with pytest.raises(IncompleteBackup, match="it never finished"):
        restore_handler.handler({"s3_key": folder, "target_table": f"{ledger_table}-restored"}, context)
