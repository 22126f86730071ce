"""The manifest parses back exactly and refuses anything malformed or inconsistent."""

import json
from typing import Any

import pytest

from ledger_backup.errors import CorruptBackup
from ledger_backup.manifest import DataFile, Manifest
from ledger_backup.schema import TableSchema

SCHEMA = TableSchema(
    key_schema=[{"AttributeName": "book_id", "KeyType": "HASH"}],
    attribute_definitions=[{"AttributeName": "book_id", "AttributeType": "S"}],
    ttl_attribute="expires_at",
)


def make_manifest() -> Manifest:
    return Manifest(
        table_name="ledger",
        table_arn="arn:aws:dynamodb:us-east-1:123456789012:table/ledger",
        schema=SCHEMA,
        started_at="2026-11-25T03:00:00+00:00",
        finished_at="2026-11-25T03:00:05+00:00",
        total_segments=2,
        files=[
            DataFile("data/segment-0000-part-0000.json.gz", 3, 100, 900, "ab" * 32),
            DataFile("data/segment-0001-part-0000.json.gz", 2, 80, 600, "cd" * 32),
        ],
    )


def test_round_trip() -> None:
    manifest = make_manifest()
    assert Manifest.from_json_bytes(manifest.to_json_bytes(), "m") == manifest


def test_totals_are_recorded() -> None:
    document = json.loads(make_manifest().to_json_bytes())
    assert (document["item_count"], document["compressed_bytes"], document["uncompressed_bytes"]) == (
        5,
        180,
        1500,
    )
    assert document["format_version"] == 1
    assert document["schema"]["TimeToLiveAttribute"] == "expires_at"


def corrupted(change: Any) -> bytes:
    document = json.loads(make_manifest().to_json_bytes())
    change(document)
    return json.dumps(document).encode()


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        (b"{not json", "not valid JSON"),
        (b"[]", "not a ledger-backup manifest"),
        (corrupted(lambda d: d.update(format_version=99)), "format_version 99"),
        (corrupted(lambda d: d.update(item_count=6)), "disagrees with itself"),
        (corrupted(lambda d: d["files"][0].update(item_count=-1)), "malformed"),
        (corrupted(lambda d: d["files"][0].pop("sha256")), "malformed"),
        (corrupted(lambda d: d.pop("schema")), "malformed"),
        (corrupted(lambda d: d["schema"].update(KeySchema=[])), "malformed"),
    ],
)
def test_bad_manifests_are_refused_with_a_reason(raw: bytes, problem: str) -> None:
    with pytest.raises(CorruptBackup, match=problem):
        Manifest.from_json_bytes(raw, "s3://bucket/backups/ledger/x/manifest.json")
