"""The two Lambda handlers, end to end, against DynamoDB Local and the S3 server."""

import gzip
import hashlib
import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pytest

import backup_handler
import restore_handler
from devtools.sample_events import scheduled_event
from devtools.tables import scan_all
from ledger_backup.errors import TargetNotEmpty

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_s3 import S3Client

pytestmark = pytest.mark.integration


def test_ledger_backup_and_restore_round_trip(
    dynamodb: "DynamoDBClient",
    s3: "S3Client",
    bucket: str,
    ledger_table: str,
    function_env: Callable[[str], None],
    context: Any,
) -> None:
    function_env(ledger_table)
    backup = backup_handler.handler(scheduled_event(), context)
    assert backup["status"] == "complete"
    assert (backup["table"], backup["bucket"], backup["item_count"]) == (ledger_table, bucket, 399)
    assert backup["s3_key"].startswith(f"backups/{ledger_table}/")
    assert backup["s3_key"].endswith("/manifest.json")

    restored = restore_handler.handler(
        {"s3_key": backup["s3_key"], "target_table": f"{ledger_table}-restored"}, context
    )
    assert restored["status"] == "complete"
    assert restored["target_table"] == f"{ledger_table}-restored"
    assert restored["items_restored"] == 399
    assert restored["table_created"] is True

    original = scan_all(dynamodb, ledger_table, "book_id")
    copy = scan_all(dynamodb, f"{ledger_table}-restored", "book_id")
    assert len(original) == 399
    assert copy == original
    target = dynamodb.describe_table(TableName=f"{ledger_table}-restored")["Table"]
    assert target["KeySchema"] == [{"AttributeName": "book_id", "KeyType": "HASH"}]
    assert target["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"


def test_backup_layout_is_a_manifest_plus_export_format_data_files(
    s3: "S3Client", bucket: str, ledger_table: str, function_env: Callable[[str], None], context: Any
) -> None:
    function_env(ledger_table)
    backup = backup_handler.handler(scheduled_event(), context)
    folder = backup["s3_key"].removesuffix("manifest.json")
    keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix=folder)["Contents"])
    manifest = json.loads(s3.get_object(Bucket=bucket, Key=backup["s3_key"])["Body"].read())

    assert keys == sorted([backup["s3_key"], *(folder + f["key"] for f in manifest["files"])])
    assert all(f["key"].startswith("data/") and f["key"].endswith(".json.gz") for f in manifest["files"])
    assert manifest["format"] == "ledger-backup"
    assert manifest["table"]["name"] == ledger_table
    assert manifest["schema"]["KeySchema"] == [{"AttributeName": "book_id", "KeyType": "HASH"}]
    assert manifest["total_segments"] == 3
    assert manifest["item_count"] == 399
    assert manifest["started_at"] <= manifest["finished_at"]
    seen = 0
    for entry in manifest["files"]:
        raw = s3.get_object(Bucket=bucket, Key=folder + entry["key"])["Body"].read()
        assert hashlib.sha256(raw).hexdigest() == entry["sha256"]
        assert len(raw) == entry["compressed_bytes"]
        lines = gzip.decompress(raw).decode().splitlines()
        assert len(lines) == entry["item_count"]
        for line in lines:
            document = json.loads(line)
            assert list(document) == ["Item"]
            assert "S" in document["Item"]["book_id"]
        seen += len(lines)
    assert seen == 399


def test_edge_case_table_round_trips_with_its_schema(
    dynamodb: "DynamoDBClient", edge_table: str, function_env: Callable[[str], None], context: Any
) -> None:
    function_env(edge_table)
    backup = backup_handler.handler(scheduled_event(), context)
    restore_handler.handler({"s3_key": backup["s3_key"], "target_table": f"{edge_table}-copy"}, context)

    def by_key(table: str) -> dict[tuple[str, str], dict[str, Any]]:
        pages = dynamodb.get_paginator("scan").paginate(TableName=table, ConsistentRead=True)
        return {(i["pk"]["S"], i["sk"]["N"]): i for page in pages for i in page["Items"]}

    original, copy = by_key(edge_table), by_key(f"{edge_table}-copy")
    assert len(original) == 8
    assert copy == original
    assert copy[("near-400kb", "7")]["blob"]["B"] == original[("near-400kb", "7")]["blob"]["B"]

    source = dynamodb.describe_table(TableName=edge_table)["Table"]
    target = dynamodb.describe_table(TableName=f"{edge_table}-copy")["Table"]
    assert target["KeySchema"] == source["KeySchema"]
    assert sorted(target["AttributeDefinitions"], key=str) == sorted(source["AttributeDefinitions"], key=str)
    for kind in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes"):
        assert [(i["IndexName"], i["KeySchema"], i["Projection"]) for i in target[kind]] == [
            (i["IndexName"], i["KeySchema"], i["Projection"]) for i in source[kind]
        ]
    ttl = dynamodb.describe_time_to_live(TableName=f"{edge_table}-copy")["TimeToLiveDescription"]
    assert (ttl["TimeToLiveStatus"], ttl.get("AttributeName")) == ("ENABLED", "expires")


def test_restore_twice_gives_the_same_table_and_needs_overwrite(
    dynamodb: "DynamoDBClient", ledger_table: str, function_env: Callable[[str], None], context: Any
) -> None:
    function_env(ledger_table)
    backup = backup_handler.handler(scheduled_event(), context)
    event = {"s3_key": backup["s3_key"], "target_table": f"{ledger_table}-restored"}
    restore_handler.handler(event, context)
    first = scan_all(dynamodb, f"{ledger_table}-restored", "book_id")

    with pytest.raises(TargetNotEmpty, match="already holds items; set overwrite to true"):
        restore_handler.handler(event, context)
    again = restore_handler.handler({**event, "overwrite": True}, context)
    assert again["table_created"] is False
    assert again["items_restored"] == 399
    assert scan_all(dynamodb, f"{ledger_table}-restored", "book_id") == first


def test_restore_accepts_the_backup_folder_as_key(
    dynamodb: "DynamoDBClient", ledger_table: str, function_env: Callable[[str], None], context: Any
) -> None:
    function_env(ledger_table)
    backup = backup_handler.handler({}, context)  # a manual run, `aws lambda invoke` with `{}`
    folder = backup["s3_key"].removesuffix("manifest.json")
    restored = restore_handler.handler({"s3_key": folder, "target_table": f"{ledger_table}-2"}, context)
    assert restored["items_restored"] == 399


def test_empty_table_backs_up_and_restores(
    dynamodb: "DynamoDBClient", unique_name: str, function_env: Callable[[str], None], context: Any
) -> None:
    from devtools.tables import create_table  # noqa: PLC0415

    table = f"empty-{unique_name}"
    create_table(dynamodb, table)
    function_env(table)
    backup = backup_handler.handler(scheduled_event(), context)
    assert (backup["item_count"], backup["files"]) == (0, 0)
    restored = restore_handler.handler({"s3_key": backup["s3_key"], "target_table": f"{table}-r"}, context)
    assert restored["items_restored"] == 0
    assert dynamodb.describe_table(TableName=f"{table}-r")["Table"]["TableStatus"] == "ACTIVE"
