"""The restore journal: immutable checkpoints, the furthest one wins, one result recorded once."""

import json
import re
from pathlib import Path

import pytest

from ledger_backup.errors import BackupNotFound, CorruptBackup
from ledger_backup.restore.journal import RestoreJournal, RestoreProgress, RestoreResult, new_restore_id
from ledger_backup.schema import TableSchema
from ledger_backup.storage.stores import LocalStore

SCHEMA = TableSchema(
    key_schema=[{"AttributeName": "book_id", "KeyType": "HASH"}],
    attribute_definitions=[{"AttributeName": "book_id", "AttributeType": "S"}],
)
RID = "20261125T030000Z-0123abcd"
FOLDER = f"backups/restores/{RID}/"


def restore_progress(items_restored: int = 0, restore_id: str = RID) -> RestoreProgress:
    return RestoreProgress(
        restore_id=restore_id,
        source_key="backups/ledger/2026-11-25T03-00-00.000Z/manifest.json",
        source_location="s3://bkt/backups/ledger/2026-11-25T03-00-00.000Z/manifest.json",
        target_table="ledger-restored",
        schema=SCHEMA,
        schema_from="backup",
        table_created=True,
        expected_items=1000,
        started_at="2026-11-25T03:00:00+00:00",
        invocations=1,
    ).advanced(
        part_index=items_restored // 100, item_offset=items_restored % 100, items_restored=items_restored
    )


@pytest.fixture
def store(tmp_path: Path) -> LocalStore:
    return LocalStore(tmp_path)


@pytest.fixture
def journal(store: LocalStore) -> RestoreJournal:
    return RestoreJournal(store, "backups")


def test_new_restore_ids_are_sortable_timestamps_and_unique() -> None:
    ids = {new_restore_id() for _ in range(50)}
    assert len(ids) == 50
    assert all(re.fullmatch(r"\d{8}T\d{6}Z-[0-9a-f]{8}", i) for i in ids)
    assert RestoreJournal(LocalStore(Path("/nonexistent")), "p").restore_folder(ids.pop())  # a valid id


def test_the_journal_lives_under_the_normalised_prefix(store: LocalStore) -> None:
    assert RestoreJournal(store, "/backups//").folder == "backups/restores/"
    assert RestoreJournal(store, "").folder == "restores/"
    assert RestoreJournal(store, "backups").restore_folder(RID) == FOLDER


def test_advanced_moves_the_position_only() -> None:
    start = restore_progress(0)
    moved = start.advanced(part_index=3, item_offset=7, items_restored=307)
    assert (moved.part_index, moved.item_offset, moved.items_restored) == (3, 7, 307)
    assert moved.invocations == start.invocations
    assert (start.part_index, start.items_restored) == (0, 0)


def test_save_writes_a_checkpoint_named_by_position_and_writer(journal: RestoreJournal) -> None:
    key = journal.save(restore_progress(42), "writer-a")
    assert key == f"{FOLDER}checkpoint-000000000042-1-writer-a.json"
    assert journal.load(key) == restore_progress(42)


def test_a_checkpoint_is_written_once(journal: RestoreJournal) -> None:
    journal.save(restore_progress(42), "w")
    with pytest.raises(FileExistsError):
        journal.save(restore_progress(42), "w")


def test_progress_round_trips_through_json(journal: RestoreJournal, store: LocalStore) -> None:
    key = journal.save(restore_progress(250), "w")
    document = json.loads(store.get(key))
    assert document["schema"] == SCHEMA.to_json()
    assert document["items_restored"] == 250
    assert document["part_index"] == 2
    assert RestoreProgress.from_json(document) == restore_progress(250)


def test_latest_checkpoint_is_the_furthest_not_the_last_written(journal: RestoreJournal) -> None:
    journal.save(restore_progress(900), "a")
    journal.save(restore_progress(5), "b")
    journal.save(restore_progress(100), "c")  # 100 > 900 as text without the zero padding
    journal.save(restore_progress(20), "z")
    latest = journal.latest_checkpoint(RID)
    assert latest == f"{FOLDER}checkpoint-000000000900-1-a.json"
    assert journal.load(latest).items_restored == 900


def test_latest_checkpoint_ignores_other_restores_and_the_result(journal: RestoreJournal) -> None:
    journal.save(restore_progress(10), "a")
    journal.save(restore_progress(999, restore_id=RID + "0"), "a")  # an id that extends this one
    journal.finish(RID, {"status": "complete"})
    assert journal.latest_checkpoint(RID) == f"{FOLDER}checkpoint-000000000010-1-a.json"


def test_latest_checkpoint_of_an_unknown_restore_is_not_found(journal: RestoreJournal) -> None:
    with pytest.raises(BackupNotFound, match=rf"restore '{RID}' has no checkpoint under .*restores"):
        journal.latest_checkpoint(RID)


def test_finish_records_the_result_once(journal: RestoreJournal, store: LocalStore) -> None:
    first = {"status": "complete", "restore_id": RID, "items_restored": 1000}
    assert journal.finish(RID, first) == first
    twin = {"status": "complete", "restore_id": RID, "items_restored": 999}
    assert journal.finish(RID, twin) == first  # the replayed twin gets the recorded result
    assert json.loads(store.get(FOLDER + "result.json")) == first


def test_result_is_none_until_finished(journal: RestoreJournal) -> None:
    assert journal.result(RID) is None
    journal.finish(RID, {"status": "complete", "items_restored": 3})
    assert journal.result(RID) == {"status": "complete", "items_restored": 3}


def test_status_while_continuing_reports_the_furthest_checkpoint(journal: RestoreJournal) -> None:
    journal.save(restore_progress(300), "a")
    journal.save(restore_progress(700), "b")
    assert journal.status(RID).to_json() == {
        "status": "continuing",
        "restore_id": RID,
        "source": "s3://bkt/backups/ledger/2026-11-25T03-00-00.000Z/manifest.json",
        "target_table": "ledger-restored",
        "items_restored": 700,
        "expected_items": 1000,
        "invocations": 1,
        "started_at": "2026-11-25T03:00:00+00:00",
        "phase": "writing",
        "items_verified": 0,
        "progress": journal.store.location(journal.restore_folder(RID)),
    }


def test_status_when_done_is_the_result(journal: RestoreJournal) -> None:
    journal.save(restore_progress(300), "a")
    result = RestoreResult(
        source="s3://bkt/backups/ledger/2026-11-25T03-00-00.000Z/manifest.json",
        kind="ledger-backup",
        target_table="ledger-restored",
        table_created=True,
        items_restored=1000,
        files=4,
        compressed_bytes=1234,
        schema_from="backup",
        duration_seconds=1.5,
        restore_id=RID,
    ).to_json()
    journal.finish(RID, result)
    assert journal.status(RID).to_json() == result


def test_status_of_an_unknown_restore_is_not_found(journal: RestoreJournal) -> None:
    with pytest.raises(BackupNotFound):
        journal.status(RID)


def test_discard_checkpoints_keeps_the_result_and_other_restores(
    journal: RestoreJournal, store: LocalStore
) -> None:
    journal.save(restore_progress(1), "a")
    journal.save(restore_progress(2), "b")
    other = journal.save(restore_progress(3, restore_id="20261125T040000Z-ffffffff"), "a")
    journal.finish(RID, {"status": "complete"})
    journal.discard_checkpoints(RID)
    assert list(store.list_keys(FOLDER)) == [FOLDER + "result.json"]
    assert store.exists(other)
    journal.discard_checkpoints(RID)  # nothing left to discard: no error


@pytest.mark.parametrize("restore_id", ["", "a/b", "../x", ".hidden", ".", ".."])
def test_invalid_restore_ids_are_refused(journal: RestoreJournal, restore_id: str) -> None:
    with pytest.raises(BackupNotFound, match="is not a restore id"):
        journal.restore_folder(restore_id)
    with pytest.raises(BackupNotFound, match="is not a restore id"):
        journal.status(restore_id)
    with pytest.raises(BackupNotFound, match="is not a restore id"):
        journal.finish(restore_id, {})
    with pytest.raises(BackupNotFound, match="is not a restore id"):
        journal.save(restore_progress(1, restore_id=restore_id), "w")


@pytest.mark.parametrize(
    "key",
    [
        "backups/ledger/2026-11-25T03-00-00.000Z/manifest.json",
        "other/restores/x/checkpoint-000000000001-a.json",
        "restores/x/checkpoint-000000000001-a.json",
    ],
)
def test_a_checkpoint_outside_the_journal_folder_is_refused(
    journal: RestoreJournal, store: LocalStore, key: str
) -> None:
    store.put(key, json.dumps(restore_progress(1).to_json()).encode())
    with pytest.raises(BackupNotFound, match="is not a restore checkpoint under 'backups/restores/'"):
        journal.load(key)


def test_a_missing_checkpoint_is_not_found(journal: RestoreJournal) -> None:
    with pytest.raises(BackupNotFound):
        journal.load(f"{FOLDER}checkpoint-000000000001-a.json")


@pytest.mark.parametrize(
    "raw",
    [b"not json", b'{"restore_id": "x"}', b'{"schema": {}}', b"[]"],
)
def test_an_unreadable_checkpoint_is_corrupt_and_named(
    journal: RestoreJournal, store: LocalStore, raw: bytes
) -> None:
    key = f"{FOLDER}checkpoint-000000000001-a.json"
    store.put(key, raw)
    with pytest.raises(CorruptBackup, match=rf"restore checkpoint .*{re.escape(key)} is unreadable"):
        journal.load(key)


def test_an_unreadable_result_is_corrupt_and_named(journal: RestoreJournal, store: LocalStore) -> None:
    store.put(FOLDER + "result.json", b'{"status": "compl')
    with pytest.raises(CorruptBackup, match=r"result\.json"):
        journal.status(RID)
