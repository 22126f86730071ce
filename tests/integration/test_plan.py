"""A plan of the 399-book ledger against its backup after a bad day: some books deleted, some
changed, some added. The plan counts each exactly and its report lists each key, with the
attributes that differ for a changed book. DynamoDB Local and a backup in a local store.
"""

import io
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from devtools.ledger_items import ledger_items
from devtools.tables import create_table, load_items
from ledger_backup.backup.run import run_backup
from ledger_backup.errors import InvalidRequest
from ledger_backup.restore.plan import make_plan
from ledger_backup.restore.selection import selection_from_keys, selection_from_lines
from ledger_backup.schema import key_schema_from_json
from ledger_backup.sources import open_source
from ledger_backup.storage.stores import LocalStore

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

pytestmark = pytest.mark.integration

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


@pytest.fixture
def incident(
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


def test_plan_counts_each_change_and_reports_each_key(
    dynamodb: "DynamoDBClient", incident: tuple[str, LocalStore, str, Any]
) -> None:
    table, store, manifest_key, truth = incident
    report = io.BytesIO()
    plan = make_plan(dynamodb, open_source(store, manifest_key), table, SCHEMA, report=report)
    assert plan.verify.ok
    assert plan.changes is not None
    assert plan.changes.to_json() == {"missing": 7, "changed": 5, "same": BOOKS - 12, "extra": 3}
    lines = [json.loads(line) for line in report.getvalue().splitlines()]
    assert len(lines) == plan.report_lines == 15
    by_change: dict[str, set[str]] = {}
    for line in lines:
        by_change.setdefault(line["change"], set()).add(line["key"]["book_id"]["S"])
        if line["change"] == "changed":
            assert line["attributes"] == truth["attributes"][line["key"]["book_id"]["S"]]
        else:
            assert "attributes" not in line
    assert by_change == {"missing": truth["missing"], "changed": truth["changed"], "extra": truth["extra"]}


def test_a_report_fed_back_as_keys_selects_exactly_those_books(
    dynamodb: "DynamoDBClient", incident: tuple[str, LocalStore, str, Any]
) -> None:
    table, store, manifest_key, _ = incident
    report = io.BytesIO()
    make_plan(dynamodb, open_source(store, manifest_key), table, SCHEMA, report=report)
    selection = selection_from_lines(report.getvalue().splitlines(), SCHEMA, "report.jsonl")
    assert len(selection) == 15
    again = make_plan(dynamodb, open_source(store, manifest_key), table, SCHEMA, selection=selection)
    assert again.changes is not None
    assert again.changes.to_json() == {"missing": 7, "changed": 5, "same": 0, "extra": 3}
    assert again.keys_not_in_backup == 3  # the junk rows: chosen, but not in the backup


def test_chosen_keys_in_neither_are_counted_not_reported(
    dynamodb: "DynamoDBClient", incident: tuple[str, LocalStore, str, Any]
) -> None:
    table, store, manifest_key, truth = incident
    deleted = sorted(truth["missing"])[0]
    keys = [{"book_id": {"S": deleted}}, {"book_id": {"S": "never-existed"}}]
    selection = selection_from_keys(keys, SCHEMA)
    plan = make_plan(dynamodb, open_source(store, manifest_key), table, SCHEMA, selection=selection)
    assert plan.changes is not None
    assert plan.changes.to_json() == {"missing": 1, "changed": 0, "same": 0, "extra": 0}
    assert plan.keys_not_in_backup == 1


@pytest.mark.parametrize(
    ("keys", "problem"),
    [
        ([{"book": {"S": "x"}}], "keys[0]: a key needs exactly the attributes ['book_id']"),
        ([{"book_id": {"N": "1"}}], "keys[0]: key attribute book_id must be a non-empty S value"),
        ([{"book_id": {"S": ""}}], "keys[0]: key attribute book_id must be a non-empty S value"),
        (["book-1"], "keys[0]: a key must be a JSON object"),
        ([{"book_id": {"S": "x"}}] * 1001, "at most 1,000 keys"),
    ],
)
def test_bad_keys_are_refused_naming_the_key(keys: list[Any], problem: str) -> None:
    with pytest.raises(InvalidRequest, match=problem.replace("[", r"\[").replace("]", r"\]")):
        selection_from_keys(keys, SCHEMA)


def test_a_keys_file_line_that_is_not_json_is_named() -> None:
    with pytest.raises(InvalidRequest, match=r"keys.jsonl, line 2: not JSON"):
        selection_from_lines([b'{"book_id": {"S": "a"}}', b"{oops"], SCHEMA, "keys.jsonl")
