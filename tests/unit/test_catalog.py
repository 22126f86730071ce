"""Finding backups: what a user points at (manifest key or folder), and which backups are complete."""

import json
from pathlib import Path

import pytest

from ledger_backup.catalog import latest_backup, list_backups, load_backup, survey
from ledger_backup.cli import main
from ledger_backup.errors import BackupNotFound, CorruptBackup, IncompleteBackup
from ledger_backup.manifest import DataFile, Manifest
from ledger_backup.schema import TableSchema
from ledger_backup.storage.stores import LocalStore

SCHEMA = TableSchema(
    key_schema=[{"AttributeName": "book_id", "KeyType": "HASH"}],
    attribute_definitions=[{"AttributeName": "book_id", "AttributeType": "S"}],
)


def write_backup(
    store: LocalStore,
    folder: str,
    items: int,
    *,
    complete: bool = True,
    finished_at: str = "2026-11-25T03:01:00+00:00",
) -> Manifest:
    """A backup folder with one data file (contents do not matter here) and, if complete, its manifest."""
    entry = DataFile(
        key="data/segment-0000-part-0000-w1.json.gz",
        item_count=items,
        compressed_bytes=10,
        uncompressed_bytes=20,
        sha256="0" * 64,
    )
    store.put(folder + entry.key, b"0123456789")
    manifest = Manifest(
        table_name="ledger",
        table_arn="arn:aws:dynamodb:eu-west-1:123456789012:table/ledger",
        schema=SCHEMA,
        started_at="2026-11-25T03:00:00+00:00",
        finished_at=finished_at,
        total_segments=1,
        files=[entry],
    )
    if complete:
        store.put(folder + "manifest.json", manifest.to_json_bytes())
    return manifest


OLD = "backups/ledger/2026-11-23T03-00-00.000Z/"
MID = "backups/ledger/2026-11-24T03-00-00.000Z/"
NEW = "backups/ledger/2026-11-25T03-00-00.000Z/"


@pytest.fixture
def store(tmp_path: Path) -> LocalStore:
    return LocalStore(tmp_path)


def test_load_backup_by_manifest_key(store: LocalStore) -> None:
    manifest = write_backup(store, MID, 7)
    backup = load_backup(store, MID + "manifest.json")
    assert backup.folder == MID
    assert backup.manifest == manifest
    assert backup.manifest_key == MID + "manifest.json"
    assert backup.manifest.item_count == 7


@pytest.mark.parametrize("key", [MID, MID.rstrip("/")])
def test_load_backup_by_folder_with_or_without_slash(store: LocalStore, key: str) -> None:
    write_backup(store, MID, 3)
    backup = load_backup(store, key)
    assert backup.folder == MID
    assert backup.manifest.item_count == 3


def test_a_folder_without_manifest_is_incomplete(store: LocalStore) -> None:
    write_backup(store, MID, 3, complete=False)
    with pytest.raises(IncompleteBackup, match=r"2026-11-24T03-00-00\.000Z.* has no manifest\.json"):
        load_backup(store, MID)
    with pytest.raises(IncompleteBackup):
        load_backup(store, MID + "manifest.json")


def test_nothing_there_is_not_found(store: LocalStore) -> None:
    write_backup(store, MID, 3)
    with pytest.raises(BackupNotFound, match=r"no backup at .*2026-11-26"):
        load_backup(store, "backups/ledger/2026-11-26T03-00-00.000Z/")


def test_a_folder_holding_only_hidden_partial_files_is_not_found(store: LocalStore, tmp_path: Path) -> None:
    partial = tmp_path / MID / "data" / ".segment-0000.json.gz.partial"
    partial.parent.mkdir(parents=True)
    partial.write_bytes(b"half")
    with pytest.raises(BackupNotFound):
        load_backup(store, MID)


@pytest.mark.parametrize("key", ["", "/backups/ledger/x/manifest.json", "/"])
def test_bad_keys_are_refused_with_a_hint(store: LocalStore, key: str) -> None:
    with pytest.raises(
        BackupNotFound, match="is not a backup key: give the manifest's key or the backup folder"
    ):
        load_backup(store, key)


def test_a_corrupt_manifest_is_corrupt_not_missing(store: LocalStore) -> None:
    store.put(MID + "manifest.json", b"{not json")
    with pytest.raises(CorruptBackup, match=r"manifest .*manifest\.json is not valid JSON"):
        load_backup(store, MID)


def test_list_backups_newest_first_and_only_complete_ones_of_that_table(store: LocalStore) -> None:
    write_backup(store, MID, 2)
    write_backup(store, OLD, 1)
    write_backup(store, NEW, 3)
    write_backup(store, "backups/ledger/2026-11-26T03-00-00.000Z/", 9, complete=False)
    write_backup(store, "backups/ledger-restored/2026-11-27T03-00-00.000Z/", 5)  # another table
    write_backup(store, "other/ledger/2026-11-28T03-00-00.000Z/", 5)  # another prefix
    backups = list_backups(store, "backups/", "ledger")
    assert [b.folder for b in backups] == [NEW, MID, OLD]
    assert [b.manifest.item_count for b in backups] == [3, 2, 1]


@pytest.mark.parametrize("prefix", ["backups", "/backups/", "backups//"])
def test_list_backups_normalises_the_prefix(store: LocalStore, prefix: str) -> None:
    write_backup(store, MID, 2)
    assert [b.folder for b in list_backups(store, prefix, "ledger")] == [MID]


def test_list_backups_of_an_unknown_table_is_empty(store: LocalStore) -> None:
    write_backup(store, MID, 2)
    assert list_backups(store, "backups/", "nope") == []


def test_list_backups_with_an_empty_prefix(store: LocalStore) -> None:
    write_backup(store, "ledger/2026-11-24T03-00-00.000Z/", 2)
    assert [b.folder for b in list_backups(store, "", "ledger")] == ["ledger/2026-11-24T03-00-00.000Z/"]


def test_latest_backup_is_the_newest_complete_one(store: LocalStore) -> None:
    write_backup(store, OLD, 1)
    write_backup(store, NEW, 3)
    write_backup(store, MID, 2)
    write_backup(store, "backups/ledger/2026-11-26T03-00-00.000Z/", 9, complete=False)  # never finished
    latest = latest_backup(store, "backups/", "ledger")
    assert latest.folder == NEW
    assert latest.manifest.item_count == 3


def test_latest_backup_of_nothing_names_the_table_and_where(store: LocalStore) -> None:
    write_backup(store, MID, 2, complete=False)
    with pytest.raises(BackupNotFound, match=r"no complete backup of table 'ledger' under .*backups/ledger"):
        latest_backup(store, "backups/", "ledger")


def test_a_corrupt_newest_manifest_is_skipped_and_named_not_fatal(store: LocalStore) -> None:
    write_backup(store, OLD, 1)
    store.put(NEW + "manifest.json", b'{"format": "ledger-backup", "format_version": 1}')
    catalog = survey(store, "backups/", "ledger")
    assert [b.folder for b in catalog.backups] == [OLD]
    assert [u.folder for u in catalog.unreadable] == [NEW]
    assert "2026-11-25T03-00-00.000Z/manifest.json is malformed" in catalog.unreadable[0].problem
    assert latest_backup(store, "backups/", "ledger").folder == OLD
    assert catalog.skipped(store) == (
        f"skipped {store.location(NEW + 'manifest.json')}: its manifest cannot be read "
        f"({catalog.unreadable[0].problem})",
    )


def test_list_backups_goes_on_past_unreadable_manifests(store: LocalStore) -> None:
    write_backup(store, NEW, 3)
    store.put(OLD + "manifest.json", b"")
    store.put(MID + "manifest.json", b"{not json")
    catalog = survey(store, "backups/", "ledger")
    assert [b.folder for b in list_backups(store, "backups/", "ledger")] == [NEW]
    assert [(u.folder, u.problem.split(" is ")[-1][:14]) for u in catalog.unreadable] == [
        (OLD, "not valid JSON"),
        (MID, "not valid JSON"),
    ]


def test_only_unreadable_manifests_is_not_found_and_says_how_many(store: LocalStore) -> None:
    store.put(OLD + "manifest.json", b"")
    with pytest.raises(BackupNotFound, match=r"no complete backup .* \(1 with an unreadable manifest\)"):
        latest_backup(store, "backups/", "ledger")


def test_the_newest_is_the_latest_recorded_finish_not_the_folder_name(store: LocalStore) -> None:
    """A folder named by hand (or copied in) with a later name does not win by its name."""
    write_backup(store, OLD, 1, finished_at="2026-11-26T03:01:00+00:00")
    write_backup(store, NEW, 3, finished_at="2026-11-25T03:01:00+00:00")
    write_backup(store, "backups/ledger/zzz-by-hand/", 7, finished_at="2026-11-20T00:00:00+00:00")
    write_backup(store, MID, 2, finished_at="2026-11-26T04:01:00+01:00")  # 03:01 UTC, same as OLD
    assert [b.folder for b in list_backups(store, "backups/", "ledger")] == [
        MID,  # the same time as OLD: the folder's name only breaks the tie
        OLD,
        NEW,
        "backups/ledger/zzz-by-hand/",
    ]
    assert latest_backup(store, "backups/", "ledger").folder == MID


def test_a_finish_time_that_is_not_a_time_makes_the_manifest_unreadable(store: LocalStore) -> None:
    write_backup(store, NEW, 3, finished_at="yesterday")
    write_backup(store, OLD, 1)
    catalog = survey(store, "backups/", "ledger")
    assert [b.folder for b in catalog.backups] == [OLD]
    assert "finished_at 'yesterday' is not an ISO 8601 time" in catalog.unreadable[0].problem


def test_cli_list_names_an_unreadable_backup_and_lists_the_rest(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = LocalStore(tmp_path)
    write_backup(store, "ledger/2026-11-24T03-00-00.000Z/", 2)
    store.put("ledger/2026-11-25T03-00-00.000Z/manifest.json", b"{not json")
    assert main(["list", "ledger", "--in", str(tmp_path)]) in (0, None)
    rows = json.loads(capsys.readouterr().out)
    assert [(row["status"], row.get("items")) for row in rows] == [("complete", 2), ("unreadable", None)]
    assert rows[1]["backup"] == str(tmp_path / "ledger/2026-11-25T03-00-00.000Z/manifest.json")
    assert "is not valid JSON" in rows[1]["problem"]
