"""One key opens any kind of backup: the kind comes from the key or the object, never from guesses."""

import gzip
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from devtools.edge_items import edge_items
from devtools.legacy_formats import write_aws_export, write_scan_json
from ledger_backup import layout
from ledger_backup.backup.data_files import DataFileWriter
from ledger_backup.codec import encode_line
from ledger_backup.errors import BackupNotFound, IncompleteBackup
from ledger_backup.manifest import Manifest
from ledger_backup.restore.verify import verify_source
from ledger_backup.schema import TableSchema
from ledger_backup.sources import NotABackup, SourceKind, open_latest, open_source
from ledger_backup.storage.stores import LocalStore

SCHEMA = TableSchema(
    key_schema=[{"AttributeName": "pk", "KeyType": "HASH"}],
    attribute_definitions=[{"AttributeName": "pk", "AttributeType": "S"}],
)


def write_ledger_backup(
    store: LocalStore, items: list[dict[str, Any]], when: datetime, table: str = "ledger"
) -> str:
    """A ledger-backup folder as the backup engine leaves it; returns the manifest's key."""
    folder = layout.backup_folder("backups/", table, when)
    writer = DataFileWriter(store, folder, "data/segment-0000-part-0000.json.gz", compress_level=3)
    writer.write_lines("".join(encode_line(item) + "\n" for item in items), len(items))
    manifest = Manifest(
        table_name=table,
        table_arn=f"arn:aws:dynamodb:us-east-1:123456789012:table/{table}",
        schema=SCHEMA,
        started_at=when.isoformat(),
        finished_at=when.isoformat(),
        total_segments=1,
        files=[writer.finish()],
    )
    store.put_new(layout.manifest_key(folder), manifest.to_json_bytes())
    return layout.manifest_key(folder)


@pytest.fixture
def store(tmp_path: Path) -> LocalStore:
    return LocalStore(tmp_path)


def test_each_kind_is_detected(store: LocalStore) -> None:
    items = edge_items()
    manifest_key = write_ledger_backup(store, items, datetime(2026, 2, 14, tzinfo=UTC))
    write_scan_json(store, "old/dynamodb_backup_2026-02-14.json", items)
    write_scan_json(store, "old/renamed.txt", items, compress=True)  # gzip found by its magic bytes
    summary_key = write_aws_export(store, items, prefix="exports/")
    cases = {
        manifest_key: SourceKind.LEDGER_BACKUP,
        manifest_key.removesuffix(layout.MANIFEST_NAME): SourceKind.LEDGER_BACKUP,  # the folder
        manifest_key.removesuffix("/" + layout.MANIFEST_NAME): SourceKind.LEDGER_BACKUP,  # without slash
        "old/dynamodb_backup_2026-02-14.json": SourceKind.SCAN_JSON,
        "old/renamed.txt": SourceKind.SCAN_JSON,
        summary_key: SourceKind.DYNAMODB_EXPORT,
        summary_key.removesuffix("manifest-summary.json"): SourceKind.DYNAMODB_EXPORT,
    }
    for key, kind in cases.items():
        source = open_source(store, key)
        assert source.kind == kind, key
        report = verify_source(source, SCHEMA)
        assert report.ok, report.problems
        assert report.item_count == len(items), key
    assert open_source(store, manifest_key).schema == SCHEMA


def test_data_file_given_instead_of_its_manifest(store: LocalStore) -> None:
    manifest_key = write_ledger_backup(store, edge_items(), datetime(2026, 2, 14, tzinfo=UTC))
    data_key = manifest_key.removesuffix(layout.MANIFEST_NAME) + "data/segment-0000-part-0000.json.gz"
    with pytest.raises(NotABackup, match=r"is a single data file .* give the backup's manifest\.json"):
        open_source(store, data_key)


def test_nothing_there_and_unfinished_backups(store: LocalStore) -> None:
    with pytest.raises(BackupNotFound, match=r"no backup at .*backups/ledger/1999"):
        open_source(store, "backups/ledger/1999/manifest.json")
    store.put(
        "backups/ledger/2026-01-01T00-00-00.000Z/data/segment-0000-part-0000.json.gz", gzip.compress(b"")
    )
    with pytest.raises(IncompleteBackup, match=r"has no manifest\.json: it never finished"):
        open_source(store, "backups/ledger/2026-01-01T00-00-00.000Z/")


def test_items_are_checked_against_the_key_schema(store: LocalStore) -> None:
    items = [{"pk": {"S": "a"}}, {"other": {"S": "b"}}, {"pk": {"N": "3"}}]
    write_scan_json(store, "scan.json", items)
    report = verify_source(open_source(store, "scan.json"), SCHEMA)
    assert report.problems == (
        f"{store.location('scan.json')}, item 2: attribute pk: missing; it is the table's partition key (S)",
    )
    write_scan_json(store, "scan2.json", [items[0], items[2]])
    report = verify_source(open_source(store, "scan2.json"), SCHEMA)
    assert report.problems == (
        f"{store.location('scan2.json')}, item 2: "
        "attribute pk: the table's partition key needs type S, the item has N",
    )
    assert report.keys_checked == "pk (S, HASH)"


def test_latest_is_the_newest_complete_backup(store: LocalStore) -> None:
    write_ledger_backup(store, edge_items()[:2], datetime(2026, 2, 13, tzinfo=UTC))
    newest = write_ledger_backup(store, edge_items()[:3], datetime(2026, 2, 14, tzinfo=UTC))
    unfinished = layout.backup_folder("backups/", "ledger", datetime(2026, 2, 15, tzinfo=UTC))
    store.put(unfinished + "data/segment-0000-part-0000.json.gz", gzip.compress(b""))
    write_ledger_backup(store, edge_items(), datetime(2026, 2, 16, tzinfo=UTC), table="ledger-restored")
    source = open_latest(store, "backups/", "ledger")
    assert source.location == store.location(newest)
    assert source.expected_items == 3
    with pytest.raises(
        BackupNotFound, match=r"no complete backup of table 'payments' under .*backups/payments"
    ):
        open_latest(store, "backups/", "payments")


def test_latest_skips_a_corrupt_manifest_and_names_it_in_the_notes(store: LocalStore) -> None:
    older = write_ledger_backup(store, edge_items()[:2], datetime(2026, 2, 13, tzinfo=UTC))
    newest = write_ledger_backup(store, edge_items()[:3], datetime(2026, 2, 14, tzinfo=UTC))
    store.put(newest, b"{}")
    source = open_latest(store, "backups/", "ledger")
    assert source.location == store.location(older)
    assert source.notes[-1] == (
        f"skipped {store.location(newest)}: its manifest cannot be read "
        f"({store.location(newest)} is not a ledger-backup manifest)"
    )
