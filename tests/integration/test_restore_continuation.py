"""A restore longer than one invocation: checkpoints, chained invocations, replays, and a crash resumed."""

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pytest

import backup_handler
import restore_handler
from devtools.lambda_context import ExpiringLambdaContext, FakeLambdaContext
from devtools.sample_events import scheduled_event
from devtools.tables import scan_all
from ledger_backup.aws.clients import dynamodb_client, s3_client
from ledger_backup.errors import InvocationLimitReached
from ledger_backup.restore.journal import RestoreJournal
from ledger_backup.restore.run import RestoreOptions, start_restore
from ledger_backup.sources import open_source
from ledger_backup.storage.stores import S3Store
from tests.integration.chains import by_hand_event, deliver_twice_interleaved, emitted_metrics

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_s3 import S3Client

pytestmark = pytest.mark.integration


class Killed(BaseException):
    """The process dying: nothing after it runs (a BaseException passes every `except Exception`)."""


@pytest.fixture
def backup_key(
    ledger_table: str, function_env: Callable[[str], None], monkeypatch: pytest.MonkeyPatch
) -> str:
    function_env(ledger_table)
    monkeypatch.setenv("CONTINUATION_MARGIN_SECONDS", "60")
    key: str = backup_handler.handler(scheduled_event(), FakeLambdaContext())["s3_key"]
    return key


def deliver_until_done(
    result: dict[str, Any], sent: list[dict[str, Any]], calls: int
) -> list[dict[str, Any]]:
    """Deliver each self-invocation the restore asks for, until one completes."""
    results = [result]
    while results[-1]["status"] == "continuing":
        results.append(restore_handler.handler(sent.pop(0), ExpiringLambdaContext(calls=calls)))
    return results


def test_chained_restore_writes_every_item_once(
    dynamodb: "DynamoDBClient",
    s3: "S3Client",
    bucket: str,
    ledger_table: str,
    backup_key: str,
    self_invocations: list[dict[str, Any]],
) -> None:
    target = f"{ledger_table}-chained"
    began = time.monotonic()
    first = restore_handler.handler(
        {"s3_key": backup_key, "target_table": target}, ExpiringLambdaContext(calls=3)
    )
    assert first["status"] == "continuing"
    assert first["items_restored"] == 100  # the wall is noticed at the 4th look, after 4 batches of 25
    status = restore_handler.handler({"restore_status": first["restore_id"]}, FakeLambdaContext())
    assert (status["status"], status["items_restored"], status["expected_items"]) == ("continuing", 100, 399)

    results = deliver_until_done(first, self_invocations, calls=3)
    whole_chain = time.monotonic() - began
    assert [r["items_restored"] for r in results] == [100, 200, 300, 399]
    final = results[-1]
    # The answer is the whole run's: its time, and every byte the write pass read (a resumed part is
    # read again from its start, so at least the backup's data files).
    # The whole run's time (from the restore's start, after the first invocation's set-up), not the last
    # invocation's share of it.
    assert 0.5 * whole_chain <= final["duration_seconds"] <= whole_chain + 0.5
    data_files = s3.list_objects_v2(Bucket=bucket, Prefix=backup_key.rsplit("/", 1)[0] + "/")["Contents"]
    backup_bytes = sum(o["Size"] for o in data_files if not o["Key"].endswith("manifest.json"))
    assert final["compressed_bytes"] >= backup_bytes
    assert (final["status"], final["restore_id"], final["invocations"]) == (
        "complete",
        first["restore_id"],
        4,
    )
    assert final["table_created"] is True
    assert scan_all(dynamodb, target, "book_id") == scan_all(dynamodb, ledger_table, "book_id")

    recorded = restore_handler.handler({"restore_status": first["restore_id"]}, FakeLambdaContext())
    assert recorded == final
    folder = f"backups/restores/{first['restore_id']}/"
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix=folder)["Contents"]]
    assert keys == [f"{folder}result.json"], "checkpoints are removed once the result is recorded"


def test_replayed_continuation_counts_each_item_once(
    dynamodb: "DynamoDBClient", ledger_table: str, backup_key: str, self_invocations: list[dict[str, Any]]
) -> None:
    target = f"{ledger_table}-replayed"
    first = restore_handler.handler(
        {"s3_key": backup_key, "target_table": target}, ExpiringLambdaContext(calls=3)
    )
    (event,) = self_invocations
    self_invocations.clear()
    # Lambda delivers the continuation twice; the deliveries run interleaved, paced differently.
    finals = deliver_twice_interleaved(restore_handler.handler, event, self_invocations, paces=(2, 5))
    assert len(finals) == 2
    assert finals[0] == finals[1], "both deliveries report the one recorded result"
    assert finals[0]["items_restored"] == 399
    assert finals[0]["restore_id"] == first["restore_id"]
    assert scan_all(dynamodb, target, "book_id") == scan_all(dynamodb, ledger_table, "book_id")


def test_crashed_restore_resumes_from_its_last_checkpoint(
    dynamodb: "DynamoDBClient",
    bucket: str,
    ledger_table: str,
    backup_key: str,
    self_invocations: list[dict[str, Any]],
) -> None:
    store = S3Store(s3_client(), bucket)
    journal = RestoreJournal(store, "backups/")
    target = f"{ledger_table}-crashed"
    looks = 0

    def dies_after_a_while() -> bool:
        nonlocal looks
        looks += 1
        if looks > 9:
            raise Killed
        return False

    with pytest.raises(Killed):
        start_restore(
            dynamodb_client(),
            open_source(store, backup_key),
            target,
            options=RestoreOptions(checkpoint_seconds=0),  # a checkpoint after every batch
            journal=journal,
            should_pause=dies_after_a_while,
        )
    (restore_id,) = {k.split("/")[2] for k in store.list_keys("backups/restores/") if "/checkpoint-" in k}
    assert journal.status(restore_id).items_restored == 225  # 9 looks, 25 items each

    resumed = restore_handler.handler({"resume": restore_id}, FakeLambdaContext())
    assert (resumed["status"], resumed["items_restored"], resumed["restore_id"]) == (
        "complete",
        399,
        restore_id,
    )
    assert scan_all(dynamodb, target, "book_id") == scan_all(dynamodb, ledger_table, "book_id")


@pytest.mark.parametrize(
    ("event", "problem"),
    [
        ({"resume": "not-an-id"}, "resume: String should match pattern"),
        ({"resume": "20261125T030000Z-0123abcd"}, "has no checkpoint"),
        ({"restore_status": "../../x"}, "restore_status: String should match pattern"),
        (
            {"continuation": {"checkpoint_key": "backups/ledger/x/manifest.json"}},
            "is not a restore checkpoint",
        ),
    ],
)
def test_bad_continuations_are_refused(
    event: dict[str, Any], problem: str, ledger_table: str, function_env: Callable[[str], None]
) -> None:
    function_env(ledger_table)
    with pytest.raises(Exception, match=problem):
        restore_handler.handler(event, FakeLambdaContext())


def test_a_chain_as_long_as_its_cap_finishes(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    ledger_table: str,
    backup_key: str,
    self_invocations: list[dict[str, Any]],
) -> None:
    """This restore takes 4 invocations: with MAX_INVOCATIONS=4 each hands on, numbered, to the next."""
    monkeypatch.setenv("MAX_INVOCATIONS", "4")
    capsys.readouterr()
    first = restore_handler.handler(
        {"s3_key": backup_key, "target_table": f"{ledger_table}-capped"}, ExpiringLambdaContext(calls=3)
    )
    numbers = []
    results = [first]
    while results[-1]["status"] == "continuing":
        (event,) = self_invocations
        self_invocations.clear()
        numbers.append(event["continuation"]["invocation"])
        results.append(restore_handler.handler(event, ExpiringLambdaContext(calls=3)))
    assert numbers == [2, 3, 4]
    assert (results[-1]["items_restored"], results[-1]["invocations"]) == (399, 4)
    metrics = emitted_metrics(capsys.readouterr().out)
    assert (metrics.get("RestoreContinued"), metrics.get("RestoreSucceeded")) == (3, 1)
    assert "RestoreFailed" not in metrics


def test_a_chain_past_its_cap_stops_and_resumes_by_hand(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    dynamodb: "DynamoDBClient",
    bucket: str,
    ledger_table: str,
    backup_key: str,
    self_invocations: list[dict[str, Any]],
) -> None:
    """With MAX_INVOCATIONS=3 the third invocation fails (RestoreFailed) instead of invoking a fourth.

    Its checkpoint stays; `{"resume": id}` starts a new chain that finishes the restore.
    """
    monkeypatch.setenv("MAX_INVOCATIONS", "3")
    target = f"{ledger_table}-stopped"
    first = restore_handler.handler(
        {"s3_key": backup_key, "target_table": target}, ExpiringLambdaContext(calls=3)
    )
    second = restore_handler.handler(self_invocations.pop(), ExpiringLambdaContext(calls=3))
    assert second["status"] == "continuing"
    (third_event,) = self_invocations
    self_invocations.clear()
    assert third_event["continuation"]["invocation"] == 3
    capsys.readouterr()
    with pytest.raises(InvocationLimitReached) as stopped:
        restore_handler.handler(third_event, ExpiringLambdaContext(calls=3))
    assert self_invocations == [], "at the cap the restore does not invoke itself again"
    metrics = emitted_metrics(capsys.readouterr().out)
    assert metrics.get("RestoreFailed") == 1, metrics
    assert "RestoreContinued" not in metrics

    restore_id = first["restore_id"]
    message = str(stopped.value)
    assert f"restore {restore_id} into {target!r} stopped after 3 invocations in one chain" in message
    assert f"its progress is kept at s3://{bucket}/backups/restores/{restore_id}/." in message
    status = restore_handler.handler({"restore_status": restore_id}, FakeLambdaContext())
    assert (status["status"], status["items_restored"]) == ("continuing", 300)

    assert by_hand_event(message) == {"resume": restore_id}
    resumed = restore_handler.handler(by_hand_event(message), ExpiringLambdaContext(calls=3))
    assert (resumed["status"], resumed["items_restored"], resumed["restore_id"]) == (
        "complete",
        399,
        restore_id,
    )
    assert resumed["invocations"] == 4, "the journal counts the whole run; the cap counted only the chain"
    assert scan_all(dynamodb, target, "book_id") == scan_all(dynamodb, ledger_table, "book_id")
