"""Each restore mode on the 399-book ledger after a bad day (7 books deleted, 5 changed, 3 junk rows
added after the backup): the table each leaves, its counts, a pipeline write made during a
missing-mode restore surviving it, and a plan's report fed back as the keys to restore.
"""

import io
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
import pytest

from devtools.tables import scan_all
from ledger_backup.errors import InvalidRequest, TargetNotEmpty
from ledger_backup.restore.journal import RestoreJournal, RestoreResult
from ledger_backup.restore.plan import make_plan
from ledger_backup.restore.run import KeysFile, RestoreOptions, resume_restore, run_restore, start_restore
from ledger_backup.sources import open_source
from ledger_backup.storage.stores import LocalStore
from tests.integration.incidents import BOOKS, SCHEMA, restore_killed_after

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

pytestmark = pytest.mark.integration

Incident = tuple[str, LocalStore, str, Any]


def books_in(dynamodb: "DynamoDBClient", table: str) -> dict[str, dict[str, Any]]:
    return scan_all(dynamodb, table, key="book_id")


def backup_books(store: LocalStore, manifest_key: str) -> dict[str, dict[str, Any]]:
    return {item["book_id"]["S"]: item for item, _ in _entries(store, manifest_key)}


def _entries(store: LocalStore, manifest_key: str) -> list[tuple[dict[str, Any], Any]]:
    source = open_source(store, manifest_key)
    return [entry for part in source.parts for entry in part.entries()]


def test_missing_brings_back_only_the_deleted_books(dynamodb: "DynamoDBClient", incident: Incident) -> None:
    table, store, manifest_key, truth = incident
    before = books_in(dynamodb, table)
    result = run_restore(dynamodb, store, manifest_key, table, options=RestoreOptions(mode="missing"))
    assert (result.items_restored, result.items_skipped, result.items_deleted) == (7, BOOKS - 7, 0)
    after = books_in(dynamodb, table)
    backup = backup_books(store, manifest_key)
    assert set(after) == set(before) | truth["missing"]
    for book_id in truth["missing"]:
        assert after[book_id] == backup[book_id]
    for book_id in before:  # changed books and junk rows untouched
        assert after[book_id] == before[book_id]


def test_a_write_made_during_a_missing_restore_survives_it(
    dynamodb: "DynamoDBClient", incident: Incident
) -> None:
    table, store, manifest_key, truth = incident
    pipeline = boto3.client("dynamodb")
    rewritten = sorted(truth["missing"])[-2:]  # the pipeline re-creates two of the deleted books
    fresh = {book_id: {"book_id": {"S": book_id}, "status": {"S": "reprocessed"}} for book_id in rewritten}
    restore_client = boto3.client("dynamodb")
    done: list[bool] = []

    def pipeline_writes(params: dict[str, Any], **_: Any) -> None:
        if not done:  # just before the restore's first put reaches DynamoDB
            done.append(True)
            for item in fresh.values():
                pipeline.put_item(TableName=table, Item=item)

    restore_client.meta.events.register("before-call.dynamodb.PutItem", pipeline_writes)
    result = run_restore(restore_client, store, manifest_key, table, options=RestoreOptions(mode="missing"))
    after = books_in(dynamodb, table)
    for book_id, item in fresh.items():
        assert after[book_id] == item
    assert result.items_restored + result.items_skipped == BOOKS
    assert result.items_restored in (5, 6)  # the first put may be one of the two, and wins the race
    assert len(after) == BOOKS + 3


def test_upsert_lays_the_backup_over_the_table_and_keeps_the_junk(
    dynamodb: "DynamoDBClient", incident: Incident
) -> None:
    table, store, manifest_key, truth = incident
    with pytest.raises(TargetNotEmpty, match='or use mode "missing"'):
        run_restore(dynamodb, store, manifest_key, table, options=RestoreOptions(mode="upsert"))
    options = RestoreOptions(mode="upsert", overwrite=True)
    result = run_restore(dynamodb, store, manifest_key, table, options=options)
    assert (result.items_restored, result.items_deleted) == (BOOKS, 0)
    after = books_in(dynamodb, table)
    backup = backup_books(store, manifest_key)
    assert set(after) == set(backup) | truth["extra"]
    assert all(after[book_id] == item for book_id, item in backup.items())


def test_replace_leaves_exactly_the_backup(dynamodb: "DynamoDBClient", incident: Incident) -> None:
    table, store, manifest_key, _ = incident
    with pytest.raises(TargetNotEmpty):
        run_restore(dynamodb, store, manifest_key, table, options=RestoreOptions(mode="replace"))
    options = RestoreOptions(mode="replace", overwrite=True)
    result = run_restore(dynamodb, store, manifest_key, table, options=options)
    assert (result.items_restored, result.items_deleted, result.mode) == (BOOKS, 3, "replace")
    assert books_in(dynamodb, table) == backup_books(store, manifest_key)
    plan = make_plan(dynamodb, open_source(store, manifest_key), table, SCHEMA)
    assert plan.changes is not None
    assert plan.changes.to_json() == {"missing": 0, "changed": 0, "same": BOOKS, "extra": 0}


def test_replace_of_chosen_keys_deletes_those_the_backup_lacks(
    dynamodb: "DynamoDBClient", incident: Incident
) -> None:
    table, store, manifest_key, truth = incident
    before = books_in(dynamodb, table)
    changed = sorted(truth["changed"])[0]
    junk = sorted(truth["extra"])[0]
    keys = [{"book_id": {"S": changed}}, {"book_id": {"S": junk}}, {"book_id": {"S": "never-existed"}}]
    options = RestoreOptions(mode="replace", overwrite=True, keys=keys)
    result = run_restore(dynamodb, store, manifest_key, table, options=options)
    assert (result.items_restored, result.items_deleted, result.keys_not_in_backup) == (1, 1, 2)
    after = books_in(dynamodb, table)
    assert after[changed] == backup_books(store, manifest_key)[changed]
    assert junk not in after
    assert {k: v for k, v in after.items() if k != changed} == {
        k: v for k, v in before.items() if k not in (changed, junk)
    }


def test_a_plans_report_fed_back_as_keys_restores_exactly_those_books(
    dynamodb: "DynamoDBClient", incident: Incident, tmp_path: Path
) -> None:
    table, store, manifest_key, _ = incident
    report = io.BytesIO()
    make_plan(dynamodb, open_source(store, manifest_key), table, SCHEMA, report=report)
    missing_only = b"".join(
        line + b"\n" for line in report.getvalue().splitlines() if json.loads(line)["change"] == "missing"
    )
    journal = RestoreJournal(store, "backups/")
    options = RestoreOptions(mode="upsert", overwrite=True, keys_file=KeysFile("report.jsonl", missing_only))
    result = start_restore(
        dynamodb, open_source(store, manifest_key), table, options=options, journal=journal
    )
    assert (result.items_restored, result.keys_not_in_backup) == (7, 0)  # type: ignore[union-attr]
    plan = make_plan(dynamodb, open_source(store, manifest_key), table, SCHEMA)
    assert plan.changes is not None
    assert plan.changes.to_json() == {"missing": 0, "changed": 5, "same": BOOKS - 5, "extra": 3}


def test_an_unknown_mode_and_bad_keys_are_refused_before_anything_is_written(
    dynamodb: "DynamoDBClient", incident: Incident
) -> None:
    table, store, manifest_key, _ = incident
    before = books_in(dynamodb, table)
    with pytest.raises(InvalidRequest, match="mode must be one of upsert, missing, replace"):
        run_restore(dynamodb, store, manifest_key, table, options=RestoreOptions(mode="merge"))
    keys = [{"book_id": {"S": "a"}}, {"book_id": {"N": "1"}}]
    with pytest.raises(InvalidRequest, match="keys\\[1\\]: key attribute book_id must be a non-empty S"):
        run_restore(dynamodb, store, manifest_key, table, options=RestoreOptions(mode="missing", keys=keys))
    assert books_in(dynamodb, table) == before


def test_a_missing_restore_of_chosen_keys_resumes_with_its_mode_and_keys(
    dynamodb: "DynamoDBClient", incident: Incident
) -> None:
    table, store, manifest_key, truth = incident
    before = books_in(dynamodb, table)
    journal = RestoreJournal(store, "backups/")
    chosen = sorted(truth["missing"])[:4] + sorted(truth["changed"])[:2]
    keys = [{"book_id": {"S": book_id}} for book_id in chosen]
    options = RestoreOptions(mode="missing", keys=keys, checkpoint_seconds=0)
    restore_id = restore_killed_after(dynamodb, store, manifest_key, table, options, journal, looks=6)
    assert store.exists(f"backups/restores/{restore_id}/selection.jsonl")
    result = resume_restore(dynamodb, journal, journal.latest_checkpoint(restore_id))
    assert isinstance(result, RestoreResult)
    assert result.mode == "missing"
    # Puts made after the last checkpoint are made again on resume and then find their key: skipped.
    assert result.items_restored + result.items_skipped == 6
    assert result.items_restored <= 4
    after = books_in(dynamodb, table)
    backup = backup_books(store, manifest_key)
    assert set(after) == set(before) | set(chosen[:4])
    assert all(after[book_id] == backup[book_id] for book_id in chosen[:4])
    assert all(after[book_id] == before[book_id] for book_id in chosen[4:])  # changed books untouched
