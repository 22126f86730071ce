"""The restore Lambda reads every backup the user has, through the same `s3_key`.

Legacy files are made from a Scan of a real table, as `aws dynamodb scan --output json` and
DynamoDB's export would have made them, then restored through the handler into DynamoDB Local.
"""

import gzip
import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import boto3
import pytest

import backup_handler
import restore_handler
from devtools.edge_items import edge_items
from devtools.ledger_items import ledger_items
from devtools.legacy_formats import write_aws_export, write_scan_json
from devtools.local_aws import LocalAws
from devtools.tables import create_table, load_items, scan_all
from ledger_backup.aws.tables import table_items
from ledger_backup.errors import BackupNotFound, CorruptBackup, InvalidRequest, SchemaMismatch
from ledger_backup.storage.stores import S3Store

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_s3 import S3Client

pytestmark = pytest.mark.integration

FORMATS = ["ledger-backup", "scan-json", "scan-json-gz", "dynamodb-export"]
KIND = {"scan-json-gz": "scan-json"}


@dataclass(frozen=True)
class SharedTable:
    """A table loaded once for this module (tests only read it), with its items as a Scan returns them."""

    name: str
    key: str
    items: list[dict[str, Any]]
    by_key: dict[str, dict[str, Any]]


def _shared_table(name: str, key: str, items: list[dict[str, Any]]) -> SharedTable:
    dynamodb = boto3.client("dynamodb")
    create_table(dynamodb, name, hash_key=key)
    load_items(dynamodb, name, items)
    return SharedTable(name, key, list(table_items(dynamodb, name)), scan_all(dynamodb, name, key))


@pytest.fixture(scope="module")
def ledger(local_services: LocalAws) -> SharedTable:
    """The runbook's ledger: 399 books."""
    return _shared_table(f"ledger-formats-{os.getpid()}", "book_id", list(ledger_items(399)))


@pytest.fixture(scope="module")
def edge_reference(local_services: LocalAws) -> SharedTable:
    """Every edge-case item (all types, 38 digits, names S/N/M/Items/Item, empty values, ~400 KB)."""
    return _shared_table(f"edgeref-{os.getpid()}", "pk", edge_items())


def put_backup(fmt: str, table: SharedTable, store: S3Store, context: Any) -> str:
    """Back `table` up in format `fmt` under the function's prefix; return the key the user would give.

    The legacy files hold the items in the order and spelling a Scan returned them, as the
    CLI's and the export's did.
    """
    if fmt == "ledger-backup":
        key: str = backup_handler.handler({}, context)["s3_key"]
        return key
    if fmt == "scan-json":
        return write_scan_json(
            store, f"backups/legacy/dynamodb_backup_{table.name}_2026-02-14.json", table.items
        )
    if fmt == "scan-json-gz":
        return write_scan_json(store, f"backups/legacy/{table.name}.json.gz", table.items, compress=True)
    return write_aws_export(store, table.items, prefix="backups/exports/", files=3)


def key_schema(name: str) -> list[dict[str, str]]:
    return [{"AttributeName": name, "KeyType": "HASH", "AttributeType": "S"}]


@pytest.mark.parametrize("fmt", FORMATS)
def test_each_format_restores_the_whole_ledger(
    fmt: str,
    dynamodb: "DynamoDBClient",
    s3: "S3Client",
    bucket: str,
    ledger: SharedTable,
    unique_name: str,
    function_env: Callable[[str], None],
    context: Any,
) -> None:
    function_env(ledger.name)
    key = put_backup(fmt, ledger, S3Store(s3, bucket), context)
    target = f"{ledger.name}-{unique_name}"
    event: dict[str, Any] = {"s3_key": key, "target_table": target}
    if fmt != "ledger-backup":
        event["key_schema"] = key_schema("book_id")

    checked = restore_handler.handler({**event, "dry_run": True}, context)
    assert (checked["status"], checked["kind"], checked["item_count"], checked["problems"]) == (
        "verified",
        KIND.get(fmt, fmt),
        399,
        [],
    )
    assert checked["keys_checked"] == "book_id (S, HASH)"
    assert target not in dynamodb.list_tables()["TableNames"]  # a dry run writes nothing

    restored = restore_handler.handler(event, context)
    assert (restored["status"], restored["kind"], restored["items_restored"]) == (
        "complete",
        KIND.get(fmt, fmt),
        399,
    )
    assert restored["schema_from"] == ("backup" if fmt == "ledger-backup" else "request")
    assert scan_all(dynamodb, target, "book_id") == ledger.by_key


@pytest.mark.parametrize("fmt", FORMATS)
def test_each_format_keeps_every_edge_case_item_exact(
    fmt: str,
    dynamodb: "DynamoDBClient",
    s3: "S3Client",
    bucket: str,
    edge_reference: SharedTable,
    unique_name: str,
    function_env: Callable[[str], None],
    context: Any,
) -> None:
    function_env(edge_reference.name)
    key = put_backup(fmt, edge_reference, S3Store(s3, bucket), context)
    target = f"{edge_reference.name}-{unique_name}"
    event: dict[str, Any] = {"s3_key": key, "target_table": target, "key_schema": key_schema("pk")}
    restored = restore_handler.handler(event, context)
    assert restored["items_restored"] == 8
    copy = scan_all(dynamodb, target)
    assert copy == edge_reference.by_key
    assert copy["near-400kb"]["blob"]["B"] == edge_items()[-1]["blob"]["B"]  # bytes, not base64 text
    assert copy["type-named-attributes"]["Items"] == {"L": [{"S": "not a scan document"}]}


def test_legacy_backup_takes_the_schema_of_an_existing_target(
    dynamodb: "DynamoDBClient",
    s3: "S3Client",
    bucket: str,
    ledger: SharedTable,
    unique_name: str,
    function_env: Callable[[str], None],
    context: Any,
) -> None:
    function_env(ledger.name)
    key = put_backup("scan-json", ledger, S3Store(s3, bucket), context)
    target = f"{ledger.name}-{unique_name}"
    create_table(dynamodb, target, hash_key="book_id")  # runbook option 3: the table was created by hand
    restored = restore_handler.handler({"s3_key": key, "target_table": target}, context)
    assert (restored["items_restored"], restored["schema_from"], restored["table_created"]) == (
        399,
        "target table",
        False,
    )
    with pytest.raises(
        SchemaMismatch, match=r"has key schema book_id \(S, HASH\) but key_schema says id \(S, HASH\)"
    ):
        restore_handler.handler(
            {"s3_key": key, "target_table": target, "overwrite": True, "key_schema": key_schema("id")},
            context,
        )


def test_legacy_backup_without_any_schema_says_what_to_give(
    dynamodb: "DynamoDBClient",
    s3: "S3Client",
    bucket: str,
    ledger: SharedTable,
    unique_name: str,
    function_env: Callable[[str], None],
    context: Any,
) -> None:
    function_env(ledger.name)
    key = put_backup("dynamodb-export", ledger, S3Store(s3, bucket), context)
    target = f"{ledger.name}-{unique_name}"
    with pytest.raises(InvalidRequest) as caught:
        restore_handler.handler({"s3_key": key, "target_table": target}, context)
    message = str(caught.value)
    assert "is a dynamodb-export backup, which records no key schema" in message
    assert f"target table '{target}' does not exist: restore into an existing table" in message
    assert '"key_schema": [{"AttributeName": "book_id", "KeyType": "HASH", "AttributeType": "S"}]' in message
    assert "--hash-key" in message
    assert target not in dynamodb.list_tables()["TableNames"]


def test_latest_restores_the_newest_complete_backup(
    dynamodb: "DynamoDBClient", unique_name: str, function_env: Callable[[str], None], context: Any
) -> None:
    table = f"small-{unique_name}"
    create_table(dynamodb, table, hash_key="book_id")
    load_items(dynamodb, table, [{"book_id": {"S": f"b{n}"}} for n in range(3)])
    function_env(table)
    backup_handler.handler({}, context)
    load_items(dynamodb, table, [{"book_id": {"S": "b3"}}])
    newest = backup_handler.handler({}, context)
    restored = restore_handler.handler({"s3_key": "latest", "target_table": f"{table}-latest"}, context)
    assert restored["source"].endswith(newest["s3_key"])
    assert restored["items_restored"] == 4
    function_env(f"{table}-other")
    with pytest.raises(BackupNotFound, match=rf"no complete backup of table '{table}-other'"):
        restore_handler.handler({"s3_key": "latest", "target_table": f"{table}-other-r"}, context)


def damage(how: str, store: S3Store, key: str) -> None:
    """Break a legacy backup the way disks, transfers and hand edits do."""
    if how == "truncated-gzip":
        raw = store.get(key)
        store.put(key, raw[: len(raw) * 2 // 3])
    elif how == "changed-byte":
        files_key = key.replace("manifest-summary.json", "manifest-files.json")
        data_key = json.loads(store.get(files_key).splitlines()[-1])["dataFileS3Key"]
        lines = gzip.decompress(store.get(data_key))
        store.put(data_key, gzip.compress(lines.replace(b'"S":"v3"', b'"S":"v4"', 1)))
    elif how == "counts-disagree":
        summary = json.loads(store.get(key))
        store.put(key, json.dumps({**summary, "itemCount": summary["itemCount"] - 1}).encode())
    elif how == "key-missing":
        document = json.loads(store.get(key))
        del document["Items"][-1]["book_id"]
        store.put(key, json.dumps(document, indent=4).encode())


@pytest.mark.parametrize(
    ("fmt", "how", "message"),
    [
        ("scan-json-gz", "truncated-gzip", "the gzip stream is damaged or truncated"),
        ("dynamodb-export", "changed-byte", "checksum mismatch: manifest-files.json says MD5"),
        ("dynamodb-export", "counts-disagree", "the export's manifests disagree"),
        (
            "scan-json",
            "key-missing",
            "item 399: attribute book_id: missing; it is the table's partition key (S)",
        ),
    ],
)
def test_damaged_legacy_backups_are_refused_before_any_write(
    fmt: str,
    how: str,
    message: str,
    dynamodb: "DynamoDBClient",
    s3: "S3Client",
    bucket: str,
    ledger: SharedTable,
    unique_name: str,
    function_env: Callable[[str], None],
    context: Any,
) -> None:
    function_env(ledger.name)
    store = S3Store(s3, bucket)
    key = put_backup(fmt, ledger, store, context)
    damage(how, store, key)
    target = f"{ledger.name}-{unique_name}"
    event = {"s3_key": key, "target_table": target, "key_schema": key_schema("book_id")}
    report = restore_handler.handler({**event, "dry_run": True}, context)
    assert report["status"] == "corrupt"
    assert len(report["problems"]) == 1
    assert message in report["problems"][0]
    with pytest.raises(CorruptBackup, match=re.escape(message)):
        restore_handler.handler(event, context)
    assert target not in dynamodb.list_tables()["TableNames"]


def test_legacy_keys_outside_the_prefix_are_still_refused(
    ledger: SharedTable, function_env: Callable[[str], None], context: Any
) -> None:
    function_env(ledger.name)
    with pytest.raises(InvalidRequest, match="outside the backup prefix"):
        restore_handler.handler(
            {"s3_key": "exports/AWSDynamoDB/1/manifest-summary.json", "target_table": ledger.name + "-r"},
            context,
        )
