"""A plan of the 399-book ledger against its backup after a bad day: some books deleted, some
changed, some added. The plan counts each exactly and its report lists each key, with the
attributes that differ for a changed book. DynamoDB Local and a backup in a local store.
"""

import io
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from devtools.tables import create_table, load_items
from ledger_backup.backup.run import run_backup
from ledger_backup.restore.plan import make_plan
from ledger_backup.restore.selection import selection_from_keys, selection_from_lines
from ledger_backup.sources import open_source
from ledger_backup.storage.stores import LocalStore
from tests.integration.incidents import BOOKS, SCHEMA

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

pytestmark = pytest.mark.integration

Incident = tuple[str, LocalStore, str, Any]


def test_plan_counts_each_change_and_reports_each_key(dynamodb: "DynamoDBClient", incident: Incident) -> None:
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
    dynamodb: "DynamoDBClient", incident: Incident
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
    dynamodb: "DynamoDBClient", incident: Incident
) -> None:
    table, store, manifest_key, truth = incident
    deleted = sorted(truth["missing"])[0]
    keys = [{"book_id": {"S": deleted}}, {"book_id": {"S": "never-existed"}}]
    selection = selection_from_keys(keys, SCHEMA)
    plan = make_plan(dynamodb, open_source(store, manifest_key), table, SCHEMA, selection=selection)
    assert plan.changes is not None
    assert plan.changes.to_json() == {"missing": 1, "changed": 0, "same": 0, "extra": 0}
    assert plan.keys_not_in_backup == 1


def test_a_plan_of_more_rows_than_one_insert_batch_finishes(
    dynamodb: "DynamoDBClient", unique_name: str, tmp_path: Path
) -> None:
    """Past 2,000 items the table's rows are stored during the verify pass; the end must stay seen."""
    table = f"many-{unique_name}"
    create_table(dynamodb, table, hash_key="book_id")
    load_items(dynamodb, table, [{"book_id": {"S": f"b{n:05d}"}, "n": {"N": str(n)}} for n in range(4500)])
    store = LocalStore(tmp_path)
    backup = run_backup(dynamodb, store, table)
    dynamodb.delete_item(TableName=table, Key={"book_id": {"S": "b00007"}})
    dynamodb.put_item(TableName=table, Item={"book_id": {"S": "b00008"}, "n": {"N": "-1"}})
    plan = make_plan(dynamodb, open_source(store, backup.manifest_key), table, SCHEMA)
    assert plan.changes is not None
    assert plan.changes.to_json() == {"missing": 1, "changed": 1, "same": 4498, "extra": 0}


def _backed_up_table(dynamodb: "DynamoDBClient", table: str, store: LocalStore, items: list[Any]) -> str:
    create_table(dynamodb, table, hash_key="book_id")
    load_items(dynamodb, table, items)
    return run_backup(dynamodb, store, table).manifest_key


def test_a_value_written_in_another_spelling_is_the_same_item(
    dynamodb: "DynamoDBClient", unique_name: str, tmp_path: Path
) -> None:
    """Equal texts settle most keys; where the table's text differs (a nested number written "1.50",
    which DynamoDB Local answers as written, where the backup holds "1.5"), the item is read again by
    key and compared by value: same, not changed. A real change is still found, with its attribute."""
    table = f"spelling-{unique_name}"
    store = LocalStore(tmp_path)
    items: list[Any] = [
        {"book_id": {"S": f"b{n}"}, "m": {"M": {"x": {"N": "1.5"}}}, "s": {"S": "a"}} for n in range(30)
    ]
    manifest_key = _backed_up_table(dynamodb, table, store, items)
    respelled: Any = {"book_id": {"S": "b1"}, "m": {"M": {"x": {"N": "1.50"}}}, "s": {"S": "a"}}
    dynamodb.put_item(TableName=table, Item=respelled)
    dynamodb.put_item(TableName=table, Item={**items[2], "s": {"S": "changed"}})
    report = io.BytesIO()
    plan = make_plan(dynamodb, open_source(store, manifest_key), table, SCHEMA, report=report)
    assert plan.changes is not None
    assert plan.changes.to_json() == {"missing": 0, "changed": 1, "same": 29, "extra": 0}
    assert [json.loads(line) for line in report.getvalue().splitlines()] == [
        {"change": "changed", "key": {"book_id": {"S": "b2"}}, "attributes": ["s"]}
    ]


class _DeletingOnFirstGet:
    """The table's client, which deletes one item just before the plan's first read by key."""

    def __init__(self, client: "DynamoDBClient", table: str, key: dict[str, Any]) -> None:
        self._client, self._table, self._key = client, table, key
        self.gets = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def batch_get_item(self, **arguments: Any) -> Any:
        if self.gets == 0:
            self._client.delete_item(TableName=self._table, Key=self._key)
        self.gets += 1
        return self._client.batch_get_item(**arguments)


def test_an_item_deleted_between_the_scan_and_its_reread_is_missing(
    dynamodb: "DynamoDBClient", unique_name: str, tmp_path: Path
) -> None:
    table = f"gone-{unique_name}"
    store = LocalStore(tmp_path)
    items: list[Any] = [{"book_id": {"S": f"b{n}"}, "s": {"S": "a"}} for n in range(10)]
    manifest_key = _backed_up_table(dynamodb, table, store, items)
    dynamodb.put_item(TableName=table, Item={**items[3], "s": {"S": "changed"}})
    client = _DeletingOnFirstGet(dynamodb, table, {"book_id": {"S": "b3"}})
    plan = make_plan(client, open_source(store, manifest_key), table, SCHEMA)  # type: ignore[arg-type]
    assert client.gets == 1
    assert plan.changes is not None
    assert plan.changes.to_json() == {"missing": 1, "changed": 0, "same": 9, "extra": 0}
