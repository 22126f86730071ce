"""A backup longer than one invocation: paused at checkpoints, chained, replayed, and still exact."""

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pytest

import backup_handler
import restore_handler
from devtools.lambda_context import ExpiringLambdaContext, FakeLambdaContext
from devtools.sample_events import scheduled_event
from devtools.tables import scan_all
from ledger_backup.errors import InvocationLimitReached
from tests.integration.chains import by_hand_event, deliver_twice_interleaved, emitted_metrics

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_s3 import S3Client

pytestmark = pytest.mark.integration

MARGIN_SECONDS = 60  # the functions stop taking work this long before their timeout


@pytest.fixture
def small_pages(
    monkeypatch: pytest.MonkeyPatch, function_env: Callable[[str], None]
) -> Callable[[str], None]:
    """Two segments and many small pages, so a few clock checks cover only part of the table."""

    def configure(table: str) -> None:
        function_env(table)
        monkeypatch.setenv("SCAN_SEGMENTS", "2")
        monkeypatch.setenv("CONTINUATION_MARGIN_SECONDS", str(MARGIN_SECONDS))
        monkeypatch.setattr("ledger_backup.backup.run.scan_page_size", lambda _table: 20)

    return configure


def run_chain(
    first_event: dict[str, Any], sent: list[dict[str, Any]], calls: int = 3
) -> list[dict[str, Any]]:
    """Invoke the handler, then every continuation it asks for, until one completes."""
    results = [backup_handler.handler(first_event, ExpiringLambdaContext(calls=calls))]
    while results[-1]["status"] == "continuing":
        assert sent, "a continuing backup must invoke its successor"
        results.append(backup_handler.handler(sent.pop(0), ExpiringLambdaContext(calls=calls)))
    assert not sent
    return results


def test_chained_backup_equals_a_one_shot_backup(
    dynamodb: "DynamoDBClient",
    s3: "S3Client",
    bucket: str,
    ledger_table: str,
    small_pages: Callable[[str], None],
    self_invocations: list[dict[str, Any]],
) -> None:
    small_pages(ledger_table)
    began = time.monotonic()
    results = run_chain(scheduled_event(), self_invocations)
    whole_chain = time.monotonic() - began
    final = results[-1]
    assert len(results) >= 4
    # The whole run's time (from the manifest's start, after the first invocation's set-up), not the last
    # invocation's share of it, which is about 1/len(results).
    assert 0.5 * whole_chain <= final["duration_seconds"] <= whole_chain + 0.5
    assert [r["status"] for r in results] == ["continuing"] * (len(results) - 1) + ["complete"]
    assert [r["items_so_far"] for r in results[:-1]] == sorted(r["items_so_far"] for r in results[:-1])
    assert (final["item_count"], final["invocations"]) == (399, len(results))

    folder = final["s3_key"].removesuffix("manifest.json")
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix=folder)["Contents"]]
    assert not [k for k in keys if "/progress/" in k], "checkpoints are removed once the manifest exists"

    one_shot = backup_handler.handler(scheduled_event(), FakeLambdaContext())
    assert one_shot["invocations"] == 1
    for name, key in (("chained", final["s3_key"]), ("one-shot", one_shot["s3_key"])):
        restore_handler.handler(
            {"s3_key": key, "target_table": f"{ledger_table}-{name}"}, FakeLambdaContext()
        )
    chained = scan_all(dynamodb, f"{ledger_table}-chained", "book_id")
    assert chained == scan_all(dynamodb, f"{ledger_table}-one-shot", "book_id")
    assert chained == scan_all(dynamodb, ledger_table, "book_id")


def test_replayed_continuation_does_no_harm(
    dynamodb: "DynamoDBClient",
    s3: "S3Client",
    bucket: str,
    ledger_table: str,
    small_pages: Callable[[str], None],
    self_invocations: list[dict[str, Any]],
) -> None:
    """Lambda may deliver an async event twice: both deliveries run, one manifest, no duplicate items."""
    small_pages(ledger_table)
    first = backup_handler.handler(scheduled_event(), ExpiringLambdaContext(calls=3))
    assert first["status"] == "continuing"
    (event,) = self_invocations
    self_invocations.clear()

    # Both deliveries run, interleaved step by step and paced differently, each chain with its own successors.
    finals = deliver_twice_interleaved(backup_handler.handler, event, self_invocations, paces=(4, 5))
    fork_a, fork_b = finals
    assert fork_a["status"] == fork_b["status"] == "complete"
    assert fork_a["s3_key"] == fork_b["s3_key"]
    assert fork_a["item_count"] == fork_b["item_count"] == 399

    folder = fork_a["s3_key"].removesuffix("manifest.json")
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix=folder)["Contents"]]
    assert not [k for k in keys if "/progress/" in k]
    restored = restore_handler.handler(
        {"s3_key": fork_a["s3_key"], "target_table": f"{ledger_table}-replayed"}, FakeLambdaContext()
    )
    assert restored["items_restored"] == 399
    assert scan_all(dynamodb, f"{ledger_table}-replayed", "book_id") == scan_all(
        dynamodb, ledger_table, "book_id"
    )


def test_paused_backup_is_not_listed_or_restorable(
    ledger_table: str, small_pages: Callable[[str], None], self_invocations: list[dict[str, Any]]
) -> None:
    small_pages(ledger_table)
    paused = backup_handler.handler(scheduled_event(), ExpiringLambdaContext(calls=2))
    assert paused["status"] == "continuing"
    folder = paused["checkpoint_key"].split("progress/")[0]
    with pytest.raises(Exception, match=r"has no manifest\.json: it never finished"):
        restore_handler.handler({"s3_key": folder, "target_table": f"{ledger_table}-r"}, FakeLambdaContext())


def test_continuation_for_another_table_is_refused(
    ledger_table: str, small_pages: Callable[[str], None], self_invocations: list[dict[str, Any]]
) -> None:
    small_pages(ledger_table)
    event = {"continuation": {"checkpoint_key": "backups/payments/2026/progress/checkpoint-0001-x.json"}}
    with pytest.raises(Exception, match="is not one of this table's backups"):
        backup_handler.handler(event, FakeLambdaContext())


def test_a_chain_stops_at_max_invocations_and_a_person_carries_it_on(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    bucket: str,
    ledger_table: str,
    small_pages: Callable[[str], None],
    self_invocations: list[dict[str, Any]],
) -> None:
    """Below the cap a backup invokes itself with the next number; at it, it fails instead (BackupFailed).

    The continuation it names carries no number, so each by-hand resume is a new chain of up to the cap,
    and the backup still finishes whole.
    """
    small_pages(ledger_table)  # this backup takes at least 4 invocations
    monkeypatch.setenv("MAX_INVOCATIONS", "2")
    first = backup_handler.handler(scheduled_event(), ExpiringLambdaContext(calls=3))
    assert first["status"] == "continuing"
    assert self_invocations == [
        {"continuation": {"checkpoint_key": first["checkpoint_key"], "invocation": 2}}
    ]
    event = self_invocations.pop()

    chains = 0
    while True:
        capsys.readouterr()
        try:
            final = run_chain(event, self_invocations)[-1]
            break
        except InvocationLimitReached as stopped:
            chains += 1
            message = str(stopped)
        assert self_invocations == [], "at the cap the backup does not invoke itself again"
        metrics = emitted_metrics(capsys.readouterr().out)
        assert metrics.get("BackupFailed") == 1, metrics
        assert f"the backup of table {ledger_table!r} stopped after 2 invocations in one chain" in message
        assert "the limit is 2 (MAX_INVOCATIONS, cdk.json max_invocations)" in message
        event = by_hand_event(message)
        checkpoint_key = event["continuation"]["checkpoint_key"]
        assert event == {"continuation": {"checkpoint_key": checkpoint_key}}, "by hand: a new chain"
        assert f"its progress is kept at s3://{bucket}/{checkpoint_key}." in message

    assert chains >= 1
    assert "BackupFailed" not in emitted_metrics(capsys.readouterr().out)
    assert final["status"] == "complete"
    assert final["item_count"] == 399
    assert final["invocations"] > 2, "the cap is on one chain, not on the whole run"
