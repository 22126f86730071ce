"""Retention on moto's S3 server: the backup function prunes after a good backup, labels, and Object Lock.

Every handler call is checked against the synthesized backup role (conftest's IAM check), the prune's
lock look-ups and deletes included.
"""

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import pytest
from botocore.exceptions import ClientError

import backup_handler
from devtools.lambda_context import ExpiringLambdaContext, FakeLambdaContext
from devtools.made_up_backups import utc, write_made_up_backup
from ledger_backup import layout
from ledger_backup.catalog import list_backups
from ledger_backup.cli import main
from ledger_backup.contract import DEFAULT_BACKUP_PREFIX
from ledger_backup.errors import DeleteRefused
from ledger_backup.pruning import prune
from ledger_backup.retention import RetentionPolicy
from ledger_backup.storage.stores import S3Store
from tests.conftest import configure_functions
from tests.integration.chains import emitted_metrics

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

pytestmark = pytest.mark.integration

PREFIX = DEFAULT_BACKUP_PREFIX


def old_backups(s3: "S3Client", bucket: str, table: str, count: int) -> list[str]:
    """`count` backups of `table`, a day apart, the newest a year ago: folders oldest first."""
    store = S3Store(s3, bucket)
    newest = datetime.now(UTC) - timedelta(days=365)
    return [
        write_made_up_backup(store, PREFIX, table, newest - timedelta(days=n)) for n in reversed(range(count))
    ]


def test_the_backup_function_prunes_after_a_good_backup_keeping_the_newest(
    s3: "S3Client",
    bucket: str,
    ledger_table: str,
    function_env: Callable[[str], None],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    function_env(ledger_table)
    monkeypatch.setenv("KEEP_LAST", "3")
    monkeypatch.setenv("KEEP_MONTHLY", "1")  # this month: the new backup only
    folders = old_backups(s3, bucket, ledger_table, 4)
    capsys.readouterr()

    answer = backup_handler.handler({}, FakeLambdaContext())
    assert answer["status"] == "complete"
    pruned = answer["pruned"]
    assert pruned["status"] == "done"
    assert pruned["policy"] == {"keep_last": 3, "keep_daily": 0, "keep_weekly": 0, "keep_monthly": 1}
    assert pruned["deleted"] == [f"s3://{bucket}/{folders[1]}", f"s3://{bucket}/{folders[0]}"]
    assert (pruned["kept"], pruned["locked"], pruned["failed"]) == (3, [], [])
    kept = [b.folder for b in list_backups(S3Store(s3, bucket), PREFIX, ledger_table)]
    assert kept == [answer["s3_key"].removesuffix(layout.MANIFEST_NAME), folders[3], folders[2]]
    for folder in folders[:2]:
        assert "Contents" not in s3.list_objects_v2(Bucket=bucket, Prefix=folder)
    metrics = emitted_metrics(capsys.readouterr().out)
    assert metrics.get("BackupsPruned") == 2
    assert "PruneFailed" not in metrics


def test_a_failed_prune_leaves_the_backup_succeeded_and_says_so(
    caplog: pytest.LogCaptureFixture,
    s3: "S3Client",
    bucket: str,
    ledger_table: str,
    function_env: Callable[[str], None],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    function_env(ledger_table)
    monkeypatch.setenv("KEEP_LAST", "1")
    old_backups(s3, bucket, ledger_table, 2)

    def refuse(*_args: Any, **_kwargs: Any) -> None:
        raise DeleteRefused("S3 refused to delete 1 of 1 objects, e.g. s3://b/k: AccessDenied: Access Denied")

    monkeypatch.setattr(S3Store, "delete", refuse)
    capsys.readouterr()
    answer = backup_handler.handler({}, FakeLambdaContext())
    assert answer["status"] == "complete"
    assert answer["pruned"]["status"] == "failed"
    assert answer["pruned"]["deleted"] == []
    assert [f["problem"] for f in answer["pruned"]["failed"]] == [
        "not deleted: S3 refused to delete 1 of 1 objects, e.g. s3://b/k: AccessDenied: Access Denied"
    ] * 2
    metrics = emitted_metrics(capsys.readouterr().out)
    assert (metrics.get("PruneFailed"), metrics.get("BackupSucceeded")) == (1, 1)
    assert "BackupFailed" not in metrics
    assert "some backups could not be pruned; the backup itself is complete" in caplog.messages


def test_a_labeled_backup_keeps_its_label_across_continuations_and_outlives_the_policy(
    s3: "S3Client",
    bucket: str,
    ledger_table: str,
    function_env: Callable[[str], None],
    monkeypatch: pytest.MonkeyPatch,
    self_invocations: list[dict[str, Any]],
    capsys: pytest.CaptureFixture[str],
) -> None:
    function_env(ledger_table)
    monkeypatch.setenv("KEEP_LAST", "1")
    monkeypatch.setenv("SCAN_SEGMENTS", "2")
    monkeypatch.setattr("ledger_backup.backup.run.scan_page_size", lambda _table: 100)
    event = {"label": "before-pipeline-v4", "retain_days": 365}
    results = [backup_handler.handler(event, ExpiringLambdaContext(calls=2))]
    while results[-1]["status"] == "continuing":
        assert "pruned" not in results[-1]  # only a whole backup prunes
        results.append(backup_handler.handler(self_invocations.pop(0), ExpiringLambdaContext(calls=2)))
    labeled = results[-1]
    assert len(results) >= 2
    assert labeled["label"] == "before-pipeline-v4"
    started = datetime.fromisoformat(labeled["started_at"])
    assert datetime.fromisoformat(labeled["retain_until"]) == started + timedelta(days=365)

    # A newer backup under keep_last 1: the labeled one stays, for its label.
    newer = backup_handler.handler({}, FakeLambdaContext())
    assert newer["pruned"]["deleted"] == []
    assert newer["pruned"]["kept"] == 2

    capsys.readouterr()
    assert main(["list", ledger_table, "--in", f"s3://{bucket}", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [(r["label"], r["retain_until"]) for r in rows] == [
        (None, None),
        ("before-pipeline-v4", labeled["retain_until"]),
    ]
    assert main(["prune", f"s3://{bucket}", "--table", ledger_table, "--keep-last", "1", "--dry-run"]) == 0
    backups = json.loads(capsys.readouterr().out)["backups"]
    until = datetime.fromisoformat(labeled["retain_until"]).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert backups[1]["reasons"] == [f"label before-pipeline-v4 until {until}"]


def test_a_retention_without_a_label_is_refused_before_any_work(
    unique_name: str, function_env: Callable[[str], None]
) -> None:
    function_env(f"ledger-{unique_name}")  # refused before the table is even described
    with pytest.raises(Exception, match="retain_days needs a label"):
        backup_handler.handler({"retain_days": 30}, FakeLambdaContext())
    with pytest.raises(Exception, match="label: String should match pattern"):
        backup_handler.handler({"label": "Before Pipeline"}, FakeLambdaContext())


@pytest.fixture
def locked_bucket(s3: "S3Client", unique_name: str) -> str:
    """A bucket as the stack makes one with object_lock_days: versioned, Object Lock, a default retention."""
    name = f"locked-{unique_name}"
    s3.create_bucket(Bucket=name, ObjectLockEnabledForBucket=True)
    s3.put_object_lock_configuration(
        Bucket=name,
        ObjectLockConfiguration={
            "ObjectLockEnabled": "Enabled",
            "Rule": {"DefaultRetention": {"Mode": "COMPLIANCE", "Days": 30}},
        },
    )
    return name


def test_object_lock_refuses_deleting_a_backup_and_prune_reports_it_locked(
    s3: "S3Client", locked_bucket: str
) -> None:
    store = S3Store(s3, locked_bucket)
    now = datetime.now(UTC)
    # Finished "40 days ago" by its manifest, but written now: its objects are locked for 30 days.
    old = write_made_up_backup(store, PREFIX, "ledger", now - timedelta(days=40))
    newest = write_made_up_backup(store, PREFIX, "ledger", now - timedelta(days=1))
    manifest = layout.manifest_key(old)

    head = s3.head_object(Bucket=locked_bucket, Key=manifest)
    assert head["ObjectLockMode"] == "COMPLIANCE"
    assert head["ObjectLockRetainUntilDate"] > now + timedelta(days=29)
    version = head["VersionId"]
    with pytest.raises(ClientError) as refused:
        s3.delete_object(Bucket=locked_bucket, Key=manifest, VersionId=version)
    assert refused.value.response["Error"]["Code"] == "AccessDenied"
    with pytest.raises(ClientError):  # COMPLIANCE: not even with the governance bypass
        s3.delete_object(
            Bucket=locked_bucket, Key=manifest, VersionId=version, BypassGovernanceRetention=True
        )
    answer = s3.delete_objects(
        Bucket=locked_bucket, Delete={"Objects": [{"Key": manifest, "VersionId": version}], "Quiet": True}
    )
    assert [e["Key"] for e in answer.get("Errors", [])] == [manifest]

    result = prune(store, PREFIX, "ledger", RetentionPolicy(keep_last=1), now)
    assert result.deleted == []
    [locked] = result.locked
    assert locked.folder == old
    assert locked.lock is not None
    assert locked.lock.until is not None
    assert locked.lock.until > now + timedelta(days=29)
    assert locked.reasons[-1].startswith("locked until ")
    assert locked.reasons[-1].endswith(", not deleted yet")
    assert result.to_json(store)["locked"][0]["backup"] == f"s3://{locked_bucket}/{old}"
    # Untouched: no delete marker hides it, and it is still a complete backup.
    versions = s3.list_object_versions(Bucket=locked_bucket, Prefix=old)
    assert "DeleteMarkers" not in versions
    assert [b.folder for b in list_backups(store, PREFIX, "ledger")] == [newest, old]


def test_once_the_lock_ends_prune_hides_the_backup_behind_delete_markers(
    s3: "S3Client", locked_bucket: str
) -> None:
    """A plain delete in a versioned bucket adds a delete marker; the locked versions stay until they end."""
    store = S3Store(s3, locked_bucket)
    now = datetime.now(UTC)
    old = write_made_up_backup(store, PREFIX, "ledger", utc("2026-01-01T03:00"))
    write_made_up_backup(store, PREFIX, "ledger", now)
    later = now + timedelta(days=31)  # the pruner's clock, past the 30-day retention
    result = prune(store, PREFIX, "ledger", RetentionPolicy(keep_last=1), later)
    assert result.deleted == [old]
    versions = s3.list_object_versions(Bucket=locked_bucket, Prefix=old)
    assert {m["Key"] for m in versions["DeleteMarkers"]} == {
        layout.manifest_key(old),
        old + layout.data_file_name(0, 0, "madeup"),
        old + layout.PRUNING_NAME,
    }
    assert (
        len(versions["Versions"]) == 3
    )  # still there: S3 (or the lifecycle) removes them only after the lock
    assert [b.folder for b in list_backups(store, PREFIX, "ledger")] != [old]


def test_the_backup_function_backs_up_into_a_locked_bucket_and_prunes_around_the_locks(
    s3: "S3Client",
    locked_bucket: str,
    ledger_table: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Multipart data files and conditional puts work under a default retention; locked backups stay."""
    configure_functions(monkeypatch, ledger_table, locked_bucket)
    monkeypatch.setenv("KEEP_LAST", "1")
    [old] = old_backups(s3, locked_bucket, ledger_table, 1)  # a year old by its manifest, locked 30 days
    answer = backup_handler.handler({}, FakeLambdaContext())
    assert answer["status"] == "complete"
    assert answer["pruned"]["deleted"] == []
    [locked] = answer["pruned"]["locked"]
    assert locked["backup"] == f"s3://{locked_bucket}/{old}"
    assert datetime.fromisoformat(locked["until"]) > datetime.now(UTC) + timedelta(days=29)
    head = s3.head_object(Bucket=locked_bucket, Key=answer["s3_key"])
    assert head["ObjectLockMode"] == "COMPLIANCE"
