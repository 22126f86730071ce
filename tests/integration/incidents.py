"""The ledger after a bad day, shared by the plan and incident-restore tests (fixture `incident`)."""

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from devtools.ledger_items import ledger_items
from devtools.tables import create_table, load_items
from ledger_backup.backup.run import run_backup
from ledger_backup.restore.journal import RestoreJournal
from ledger_backup.restore.run import RestoreOptions, start_restore
from ledger_backup.schema import key_schema_from_json
from ledger_backup.sources import open_source
from ledger_backup.storage.stores import LocalStore

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

BOOKS = 399
SCHEMA = key_schema_from_json([{"AttributeName": "book_id", "KeyType": "HASH", "AttributeType": "S"}])


def book_key(item: dict[str, Any]) -> dict[str, Any]:
    return {"book_id": item["book_id"]}


def bad_day(dynamodb: "DynamoDBClient", table: str, books: list[dict[str, Any]]) -> dict[str, set[str]]:
    """Delete 7 books, change 5 (status, or a nested step, or a set member), add 3 junk rows."""
    deleted = {b["book_id"]["S"] for b in books[10:17]}
    for book_id in deleted:
        dynamodb.delete_item(TableName=table, Key={"book_id": {"S": book_id}})
    changed = {}
    for n, original in enumerate(books[100:105]):
        book = json.loads(json.dumps(original))
        if n % 3 == 0:
            book["status"] = {"S": "failed"}
            changed[book["book_id"]["S"]] = ["status"]
        elif n % 3 == 1:
            book["steps"]["M"]["toc_parse"]["M"]["attempts"] = {"N": "9"}
            changed[book["book_id"]["S"]] = ["steps"]
        else:
            book["song_titles"] = {"SS": [*book["song_titles"]["SS"], "Junk Title"]}
            book["junk"] = {"BOOL": True}
            changed[book["book_id"]["S"]] = ["junk", "song_titles"]
        dynamodb.put_item(TableName=table, Item=book)
    added = {f"junk-{n}" for n in range(3)}
    for book_id in added:
        dynamodb.put_item(TableName=table, Item={"book_id": {"S": book_id}, "status": {"S": "junk"}})
    return {"missing": deleted, "changed": set(changed), "extra": added, "attributes": changed}  # type: ignore[dict-item]


def ledger_after_a_bad_day(
    dynamodb: "DynamoDBClient", unique_name: str, tmp_path: Path
) -> tuple[str, LocalStore, str, Any]:
    table = f"ledger-{unique_name}"
    create_table(dynamodb, table, hash_key="book_id")
    books = list(ledger_items(BOOKS))
    load_items(dynamodb, table, books)
    store = LocalStore(tmp_path)
    backup = run_backup(dynamodb, store, table)
    truth = bad_day(dynamodb, table, books)
    return table, store, backup.manifest_key, truth


class Killed(Exception):
    """The process dies at a batch boundary."""


def restore_killed_after(
    dynamodb: "DynamoDBClient",
    store: LocalStore,
    manifest_key: str,
    table: str,
    options: RestoreOptions,
    journal: RestoreJournal,
    looks: int,
) -> str:
    """Start a journaled restore that dies once it has looked at the clock `looks` times; its restore id."""
    seen = 0

    def dies_after_a_while() -> bool:
        nonlocal seen
        seen += 1
        if seen > looks:
            raise Killed
        return False

    with pytest.raises(Killed):
        start_restore(
            dynamodb,
            open_source(store, manifest_key),
            table,
            options=options,
            journal=journal,
            should_pause=dies_after_a_while,
        )
    (restore_id,) = {k.split("/")[2] for k in store.list_keys("backups/restores/") if "/checkpoint-" in k}
    return restore_id
