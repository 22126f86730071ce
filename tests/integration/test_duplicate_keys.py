"""A hand-edited scan file may hold one key several times: the restore leaves its later copy, always.

Later copies sit a batch or two after the earlier ones, where several writer threads have
both copies in flight at once, and at the end of the file; some keys have three copies,
and a numeric key is written once as "7" and again as "7.0" (one key to DynamoDB).
Restored with 8 writers into DynamoDB Local from a scan document on the S3 server.
"""

from typing import TYPE_CHECKING, Any

import pytest

from devtools.legacy_formats import write_scan_json
from devtools.tables import scan_all
from ledger_backup.restore.run import RestoreOptions, run_restore
from ledger_backup.schema import key_schema_from_json
from ledger_backup.storage.stores import S3Store

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_s3 import S3Client

pytestmark = pytest.mark.integration

KEYS = 1200
WRITERS = 8


def copy(key: str, version: str, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "pk": {"S": key},
        "version": {"S": version},
        "payload": {"S": f"{key}/{version}" * 4},
        **(extra or {}),
    }


def scan_items_with_duplicates() -> tuple[list[dict[str, Any]], dict[str, str]]:
    """The file's items in file order, and the version each key must end with (its last copy's)."""
    placed: list[tuple[float, dict[str, Any]]] = []
    last: dict[str, str] = {}
    for n in range(KEYS):
        key = f"k{n:05d}"
        # The earlier copy carries an attribute the later one lacks: a later PutRequest replaces it whole.
        placed.append((n, copy(key, "first", {"stale": {"BOOL": True}})))
        last[key] = "first"
        if n % 3 == 0:  # 400 keys: a second copy 26 to 61 items later, in one of the next batches
            placed.append((n + 26 + n % 36 + 0.5, copy(key, "second")))
            last[key] = "second"
        if n % 30 == 0:  # 40 of those: a third copy at once after the second
            placed.append((n + 26 + n % 36 + 0.75, copy(key, "third")))
            last[key] = "third"
        if n % 7 == 0 and n % 3 != 0:  # far apart: the last copy at the end of the file
            placed.append((KEYS + 100 + n, copy(key, "at-end")))
            last[key] = "at-end"
    placed.sort(key=lambda entry: entry[0])
    return [item for _, item in placed], last


def test_every_duplicated_key_holds_its_later_copy_with_8_writers(
    dynamodb: "DynamoDBClient", s3: "S3Client", bucket: str, unique_name: str
) -> None:
    items, expected = scan_items_with_duplicates()
    assert len(items) - len(expected) > 500  # hundreds of duplicated copies
    store = S3Store(s3, bucket)
    key = write_scan_json(store, "backups/legacy/hand-edited.json", items)
    schema = key_schema_from_json([{"AttributeName": "pk", "KeyType": "HASH", "AttributeType": "S"}])
    target = f"dup-{unique_name}"

    result = run_restore(
        dynamodb, store, key, target, options=RestoreOptions(writers=WRITERS, key_schema=schema)
    )

    assert result.items_restored == len(items)  # the position counts the file's items, copies included
    table = scan_all(dynamodb, target)
    assert len(table) == KEYS
    kept = {k: item["version"]["S"] for k, item in table.items()}
    wrong = {k: (kept[k], v) for k, v in expected.items() if kept[k] != v}
    assert wrong == {}, f"{len(wrong)} keys kept an earlier copy, e.g. {sorted(wrong.items())[:5]}"
    assert [k for k, item in table.items() if "stale" in item and expected[k] != "first"] == []
    assert table["k00030"] == copy("k00030", "third")


def test_a_number_key_written_twice_in_two_spellings_keeps_the_later(
    dynamodb: "DynamoDBClient", s3: "S3Client", bucket: str, unique_name: str
) -> None:
    numbered = [{"id": {"N": str(n)}, "version": {"S": "first"}} for n in range(30)]
    items = [*numbered[:10], {"id": {"N": "7.0"}, "version": {"S": "second"}}, *numbered[10:]]
    items.append({"id": {"N": "2.50E1"}, "version": {"S": "second"}})  # 25, in a later batch
    store = S3Store(s3, bucket)
    key = write_scan_json(store, "backups/legacy/numbers.json", items)
    schema = key_schema_from_json([{"AttributeName": "id", "KeyType": "HASH", "AttributeType": "N"}])
    target = f"dupn-{unique_name}"

    run_restore(dynamodb, store, key, target, options=RestoreOptions(writers=WRITERS, key_schema=schema))

    table = scan_all(dynamodb, target, "id")
    assert len(table) == 30
    assert {k for k, item in table.items() if item["version"]["S"] == "second"} == {"7", "25"}
