"""Restore drills through the restore handler: a good backup passes, a corrupted one fails loudly, and
neither leaves a drill table behind or touches the ledger."""

import gzip
import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pytest

import backup_handler
import restore_handler
from devtools.lambda_context import ExpiringLambdaContext, FakeLambdaContext
from devtools.sample_events import scheduled_event
from devtools.tables import scan_all
from ledger_backup.errors import InvalidRequest, RestoreDrillFailed
from ledger_backup.restore.digest import ContentDigest
from ledger_backup.storage.stores import S3Store
from tests.integration.chains import emitted_metrics

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_s3 import S3Client

pytestmark = pytest.mark.integration


@pytest.fixture
def backup_key(ledger_table: str, function_env: Callable[[str], None]) -> str:
    function_env(ledger_table)
    key: str = backup_handler.handler(scheduled_event(), FakeLambdaContext())["s3_key"]
    return key


def table_names(dynamodb: "DynamoDBClient") -> list[str]:
    """Every table (ListTables answers at most 100 a page; the session's DynamoDB Local holds more)."""
    return [name for page in dynamodb.get_paginator("list_tables").paginate() for name in page["TableNames"]]


def drill_tables(dynamodb: "DynamoDBClient", ledger_table: str) -> list[str]:
    return [t for t in table_names(dynamodb) if t.startswith(f"{ledger_table}-drill-")]


def table_digest(dynamodb: "DynamoDBClient", table: str) -> str:
    digest = ContentDigest()
    for page in dynamodb.get_paginator("scan").paginate(TableName=table, ConsistentRead=True):
        for item in page["Items"]:
            digest.add(item)
    return digest.hexdigest


def test_a_drill_of_a_good_backup_passes_and_deletes_its_table(
    dynamodb: "DynamoDBClient",
    capsys: pytest.CaptureFixture[str],
    ledger_table: str,
    backup_key: str,
) -> None:
    ledger_before = scan_all(dynamodb, ledger_table, "book_id")
    capsys.readouterr()
    answer = restore_handler.handler({"drill": True}, FakeLambdaContext())
    assert answer["status"] == "drill-passed"
    assert answer["backup"] == backup_key, "the newest complete backup"
    assert answer["drill_table"].startswith(f"{ledger_table}-drill-")
    assert (answer["items_restored"], answer["items_compared"]) == (399, 399)
    assert answer["digest"] == table_digest(dynamodb, ledger_table), "the backup's items are the ledger's"
    assert answer["table_deleted"] is True
    assert answer["seconds"] > 0
    assert drill_tables(dynamodb, ledger_table) == []
    assert scan_all(dynamodb, ledger_table, "book_id") == ledger_before, "the ledger is untouched"
    metrics = emitted_metrics(capsys.readouterr().out)
    assert metrics.get("RestoreDrillSucceeded") == 1
    assert "RestoreDrillFailed" not in metrics
    assert "RestoreSucceeded" not in metrics, "a drill is not counted as a restore"


def test_a_drill_of_a_corrupted_backup_fails_and_leaves_no_table(
    dynamodb: "DynamoDBClient",
    s3: "S3Client",
    bucket: str,
    capsys: pytest.CaptureFixture[str],
    ledger_table: str,
    backup_key: str,
) -> None:
    folder = backup_key.removesuffix("manifest.json")
    first = sorted(o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix=f"{folder}data/")["Contents"])[
        0
    ]
    lines = gzip.decompress(s3.get_object(Bucket=bucket, Key=first)["Body"].read())
    flipped = lines.replace(b'"S":"v3"', b'"S":"v4"', 1)  # one byte, still valid JSON and items
    assert flipped != lines
    s3.put_object(Bucket=bucket, Key=first, Body=gzip.compress(flipped))
    ledger_before = scan_all(dynamodb, ledger_table, "book_id")
    capsys.readouterr()
    with pytest.raises(RestoreDrillFailed) as failed:
        restore_handler.handler({"drill": True, "s3_key": backup_key}, FakeLambdaContext())
    message = str(failed.value)
    assert message.startswith(f"restore drill of {backup_key} failed: "), message
    assert "checksum mismatch" in message
    assert "no drill table" in message or "was deleted" in message, message
    assert drill_tables(dynamodb, ledger_table) == []
    assert scan_all(dynamodb, ledger_table, "book_id") == ledger_before
    metrics = emitted_metrics(capsys.readouterr().out)
    assert metrics.get("RestoreDrillFailed") == 1
    assert "RestoreDrillSucceeded" not in metrics


def test_a_drill_across_invocations_is_proven_in_an_invocation_of_its_own(
    dynamodb: "DynamoDBClient",
    capsys: pytest.CaptureFixture[str],
    ledger_table: str,
    backup_key: str,
    self_invocations: list[dict[str, Any]],
) -> None:
    capsys.readouterr()
    answers = [restore_handler.handler({"drill": True}, ExpiringLambdaContext(calls=6))]
    while answers[-1]["status"] == "continuing":
        (event,) = self_invocations
        self_invocations.clear()
        assert drill_tables(dynamodb, ledger_table) == [answers[0]["target_table"]]
        answers.append(restore_handler.handler(event, ExpiringLambdaContext(calls=6)))
    assert len(answers) >= 3, "the drill paused at least once, then handed its proof on"
    handed_on = answers[-2]
    assert (handed_on["status"], handed_on["items_restored"]) == ("continuing", 399), (
        "all written, then proven"
    )
    final = answers[-1]
    assert final["status"] == "drill-passed"
    assert (final["restore_id"], final["drill_table"]) == (
        answers[0]["restore_id"],
        answers[0]["target_table"],
    )
    assert (final["items_restored"], final["items_compared"], final["table_deleted"]) == (399, 399, True)
    assert drill_tables(dynamodb, ledger_table) == []
    metrics = emitted_metrics(capsys.readouterr().out)
    assert metrics.get("RestoreDrillSucceeded") == 1
    assert metrics.get("RestoreContinued") == len(answers) - 1


def test_a_drill_checkpoint_naming_the_ledger_is_refused(
    dynamodb: "DynamoDBClient",
    s3: "S3Client",
    bucket: str,
    ledger_table: str,
    backup_key: str,
    self_invocations: list[dict[str, Any]],
) -> None:
    """A hand-written drill checkpoint cannot aim the drill (which deletes its table) at the ledger."""
    paused = restore_handler.handler({"drill": True}, ExpiringLambdaContext(calls=3))
    assert paused["status"] == "continuing"
    (event,) = self_invocations
    self_invocations.clear()
    checkpoint_key = event["continuation"]["checkpoint_key"]
    progress = json.loads(s3.get_object(Bucket=bucket, Key=checkpoint_key)["Body"].read())
    assert progress["drill"] is True
    forged_key = checkpoint_key.replace("checkpoint-", "checkpoint-9", 1)
    store = S3Store(s3, bucket)
    store.put(forged_key, json.dumps({**progress, "target_table": ledger_table}).encode())
    ledger_before = scan_all(dynamodb, ledger_table, "book_id")
    with pytest.raises(InvalidRequest, match="never into the ledger"):
        restore_handler.handler({"continuation": {"checkpoint_key": forged_key}}, FakeLambdaContext())
    assert ledger_table in table_names(dynamodb)
    assert scan_all(dynamodb, ledger_table, "book_id") == ledger_before
    s3.delete_object(Bucket=bucket, Key=forged_key)
    finished = restore_handler.handler(event, FakeLambdaContext())  # the real drill carries on and passes
    while finished["status"] == "continuing":
        finished = restore_handler.handler(self_invocations.pop(0), FakeLambdaContext())
    assert finished["status"] == "drill-passed"
    assert drill_tables(dynamodb, ledger_table) == []


def test_a_drill_event_takes_only_drill_and_s3_key(
    unique_name: str, function_env: Callable[[str], None]
) -> None:
    """Refused while parsing, before any call: no table is needed."""
    ledger_table = f"ledger-{unique_name}"
    function_env(ledger_table)
    with pytest.raises(InvalidRequest, match="target_table"):
        restore_handler.handler({"drill": True, "target_table": ledger_table}, FakeLambdaContext())
    with pytest.raises(InvalidRequest, match="drill: Value error, must be true"):
        restore_handler.handler({"drill": False}, FakeLambdaContext())
    with pytest.raises(InvalidRequest, match="outside the backup prefix"):
        restore_handler.handler({"drill": True, "s3_key": "elsewhere/manifest.json"}, FakeLambdaContext())
