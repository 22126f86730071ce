"""Replace finds the table's extra keys while the backup is verified, and a verified backup's lines are
written without being parsed again (restore/extra_keys.py, RestoreWriter._write_lines), on the 399-book
ledger after a bad day (7 books deleted, 5 changed, 3 junk rows added after the backup).
"""

from typing import TYPE_CHECKING, Any

import boto3
import pytest

from devtools.tables import scan_all
from ledger_backup.codec import decode_stored_line
from ledger_backup.restore.journal import EXTRA_KEYS_NAME, RestoreJournal, RestoreResult
from ledger_backup.restore.run import RestoreOptions, resume_restore, run_restore
from ledger_backup.sources import lines as source_lines
from ledger_backup.sources import open_source
from ledger_backup.storage.stores import LocalStore
from tests.integration.incidents import BOOKS, restore_killed_after

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

pytestmark = pytest.mark.integration

Incident = tuple[str, LocalStore, str, Any]


def books_in(dynamodb: "DynamoDBClient", table: str) -> dict[str, dict[str, Any]]:
    return scan_all(dynamodb, table, key="book_id")


def backup_books(store: LocalStore, manifest_key: str) -> dict[str, dict[str, Any]]:
    source = open_source(store, manifest_key)
    return {item["book_id"]["S"]: item for part in source.parts for item in part.items()}


def test_replace_scans_the_keys_before_its_puts_and_leaves_a_key_written_after_them(
    dynamodb: "DynamoDBClient", incident: Incident
) -> None:
    table, store, manifest_key, truth = incident
    restore_client = boto3.client("dynamodb")
    calls: list[str] = []
    fresh = {"book_id": {"S": "written-during-the-restore"}, "status": {"S": "queued"}}

    def record(event_name: str, **_: Any) -> None:
        operation = event_name.rsplit(".", 1)[1]
        if operation == "BatchWriteItem" and "BatchWriteItem" not in calls:
            boto3.client("dynamodb").put_item(TableName=table, Item=fresh)  # the pipeline, meanwhile
        calls.append(operation)

    restore_client.meta.events.register("before-call.dynamodb", record)
    options = RestoreOptions(mode="replace", overwrite=True)
    result = run_restore(restore_client, store, manifest_key, table, options=options)

    assert (result.items_restored, result.items_deleted) == (BOOKS, len(truth["extra"]))
    first_write = calls.index("BatchWriteItem")
    assert "Scan" in calls[:first_write]
    assert "Scan" not in calls[first_write:]  # no second look at the table after the puts
    after = books_in(dynamodb, table)
    assert after.pop(fresh["book_id"]["S"]) == fresh  # not in the table when the restore began: kept
    assert after == backup_books(store, manifest_key)


def test_a_resumed_replace_deletes_the_keys_its_journal_kept(
    dynamodb: "DynamoDBClient", incident: Incident
) -> None:
    table, store, manifest_key, truth = incident
    journal = RestoreJournal(store, "backups/")
    options = RestoreOptions(mode="replace", overwrite=True, checkpoint_seconds=0)
    restore_id = restore_killed_after(dynamodb, store, manifest_key, table, options, journal, looks=5)
    kept = store.get(f"backups/restores/{restore_id}/{EXTRA_KEYS_NAME}").decode().splitlines()
    assert sorted(kept) == sorted(f'{{"book_id":{{"S":"{book_id}"}}}}' for book_id in truth["extra"])

    result = resume_restore(dynamodb, journal, journal.latest_checkpoint(restore_id))
    assert isinstance(result, RestoreResult)
    assert (result.mode, result.items_deleted) == ("replace", len(truth["extra"]))
    assert books_in(dynamodb, table) == backup_books(store, manifest_key)


@pytest.fixture
def parsed_lines(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many stored lines were parsed (codec.decode_stored_line, as the line sources call it)."""
    count = [0]

    def counting(line: bytes) -> Any:
        count[0] += 1
        return decode_stored_line(line)

    monkeypatch.setattr(source_lines, "decode_stored_line", counting)
    return count


@pytest.mark.parametrize("mode", ["upsert", "replace"])
def test_a_verified_backup_is_parsed_once_not_again_to_write_it(
    dynamodb: "DynamoDBClient", incident: Incident, parsed_lines: list[int], mode: str
) -> None:
    table, store, manifest_key, _ = incident
    result = run_restore(
        dynamodb, store, manifest_key, table, options=RestoreOptions(mode=mode, overwrite=True)
    )
    assert result.items_restored == BOOKS
    assert parsed_lines[0] == BOOKS  # the verify pass's reading; the writes sent the lines as stored
    backup = backup_books(store, manifest_key)
    after = books_in(dynamodb, table)
    assert {book_id: after[book_id] for book_id in backup} == backup


def test_chosen_keys_are_parsed_again_to_pick_them(
    dynamodb: "DynamoDBClient", incident: Incident, parsed_lines: list[int]
) -> None:
    table, store, manifest_key, truth = incident
    keys = [{"book_id": {"S": book_id}} for book_id in sorted(truth["missing"])]
    options = RestoreOptions(mode="upsert", overwrite=True, keys=keys)
    result = run_restore(dynamodb, store, manifest_key, table, options=options)
    assert result.items_restored == len(keys)
    assert parsed_lines[0] == 2 * BOOKS
