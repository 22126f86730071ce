"""A restore never stops halfway for its input: a table it created is removed, an existing one untouched.

And the verify pass that guards an existing table keeps the function's deadline: it checkpoints
and continues in the next invocation, so a restore of any size makes progress in every one.
"""

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pytest

import restore_handler
from devtools.lambda_context import ExpiringLambdaContext, FakeLambdaContext
from devtools.legacy_formats import write_scan_json
from devtools.tables import create_table, load_items, scan_all
from ledger_backup.backup.run import run_backup
from ledger_backup.errors import CorruptBackup
from ledger_backup.restore.claim import TargetClaims
from ledger_backup.restore.journal import RestoreJournal, RestoreResult
from ledger_backup.restore.run import RestoreOptions, start_restore
from ledger_backup.schema import key_schema_from_json
from ledger_backup.sources import open_source
from ledger_backup.storage.stores import S3Store

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_s3 import S3Client

pytestmark = pytest.mark.integration

KEYS = key_schema_from_json([{"AttributeName": "pk", "KeyType": "HASH", "AttributeType": "S"}])
VERIFY_ITEMS = 3_500  # the verify pass looks at the clock every 1,000 items: several looks


def _items(count: int) -> list[dict[str, Any]]:
    return [
        {"pk": {"S": f"book-{n:05d}"}, "pages": {"N": str(n)}, "tags": {"SS": ["a", "b"]}}
        for n in range(count)
    ]


def _tables(dynamodb: "DynamoDBClient") -> list[str]:
    return dynamodb.list_tables()["TableNames"]


def test_a_bad_item_late_in_the_source_removes_the_table_the_restore_created(
    dynamodb: "DynamoDBClient", s3: "S3Client", bucket: str, unique_name: str
) -> None:
    store = S3Store(s3, bucket)
    journal = RestoreJournal(store, "backups/")
    items = _items(600)
    items[590]["tags"] = {"SS": []}  # DynamoDB refuses an empty set: found after 590 items were written
    write_scan_json(store, "legacy/bad.json", items)
    target = f"created-{unique_name}"
    options = RestoreOptions(key_schema=KEYS)

    with pytest.raises(CorruptBackup) as refused:
        start_restore(
            dynamodb, open_source(store, "legacy/bad.json"), target, options=options, journal=journal
        )
    message = str(refused.value)
    assert "item 591: attribute tags: " in message
    assert f"the table {target!r} this restore created was deleted" in message
    assert target not in _tables(dynamodb)
    assert TargetClaims.beside(journal).holder(target) is None, "the claim was given back"

    write_scan_json(store, "legacy/good.json", _items(600))
    result = start_restore(
        dynamodb, open_source(store, "legacy/good.json"), target, options=options, journal=journal
    )
    assert isinstance(result, RestoreResult)
    assert (result.items_restored, result.table_created) == (600, True)


def test_a_bad_item_late_in_the_source_leaves_an_existing_table_untouched(
    dynamodb: "DynamoDBClient", s3: "S3Client", bucket: str, unique_name: str
) -> None:
    store = S3Store(s3, bucket)
    items = _items(600)
    items[590]["pages"] = {"N": "1e126"}  # out of DynamoDB's range
    write_scan_json(store, "legacy/bad.json", items)
    target = f"existing-{unique_name}"
    create_table(dynamodb, target)
    load_items(dynamodb, target, [{"pk": {"S": "kept"}, "note": {"S": "written by the pipeline"}}])

    with pytest.raises(CorruptBackup, match=r"item 591: attribute pages: "):
        start_restore(
            dynamodb,
            open_source(store, "legacy/bad.json"),
            target,
            options=RestoreOptions(overwrite=True),
            journal=RestoreJournal(store, "backups/"),
        )
    assert scan_all(dynamodb, target) == {
        "kept": {"pk": {"S": "kept"}, "note": {"S": "written by the pipeline"}}
    }


def test_the_verify_pass_of_an_existing_target_keeps_the_deadline(
    dynamodb: "DynamoDBClient",
    s3: "S3Client",
    bucket: str,
    unique_name: str,
    function_env: Callable[[str], None],
    self_invocations: list[dict[str, Any]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    source_table = f"ledger-{unique_name}"
    create_table(dynamodb, source_table)
    load_items(dynamodb, source_table, _items(VERIFY_ITEMS))
    function_env(source_table)
    monkeypatch.setenv("CONTINUATION_MARGIN_SECONDS", "60")
    backup_key = run_backup(dynamodb, S3Store(s3, bucket), source_table).manifest_key
    target = f"{source_table}-existing"
    create_table(dynamodb, target)  # exists and is empty: verified through before the first write

    event = {"s3_key": backup_key, "target_table": target}
    # Each invocation's time runs out at its first look at the clock while verifying; writing has plenty.
    results = [restore_handler.handler(event, ExpiringLambdaContext(calls=0))]
    counts_while_verifying = []
    while results[-1]["status"] == "continuing":
        verifying_now = results[-1]["phase"] == "verifying"
        if verifying_now:
            counts_while_verifying.append(dynamodb.scan(TableName=target, Select="COUNT")["Count"])
        context = ExpiringLambdaContext(calls=0 if verifying_now else 10_000)
        results.append(restore_handler.handler(self_invocations.pop(0), context))

    verifying = [r["items_verified"] for r in results if r.get("phase") == "verifying"]
    assert verifying == [1000, 2000, 3000], "every invocation verified 1,000 more items, then paused"
    assert set(counts_while_verifying) == {0}, "nothing is written before the backup is verified through"
    final = results[-1]
    assert (final["status"], final["items_restored"], final["table_created"]) == (
        "complete",
        VERIFY_ITEMS,
        False,
    )
    assert final["invocations"] == len(results)
    assert scan_all(dynamodb, target) == scan_all(dynamodb, source_table)
    status = restore_handler.handler({"restore_status": final["restore_id"]}, FakeLambdaContext())
    assert status == final
