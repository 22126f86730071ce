"""Labeled backups and the retention settings, without services: the event, the settings, the records.

A label and its retention travel from the event (or the CLI) through every checkpoint into the
manifest; records written before labels existed still read.
"""

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from devtools.made_up_backups import utc, write_made_up_backup
from ledger_backup import layout
from ledger_backup.backup.progress import BackupProgress
from ledger_backup.backup.run import (
    BackupInProgress,
    BackupLabel,
    BackupOptions,
    BackupResult,
    resume_backup,
    start_backup,
)
from ledger_backup.catalog import load_backup
from ledger_backup.errors import CorruptBackup, DeleteRefused, InvalidRequest
from ledger_backup.manifest import Manifest
from ledger_backup.retention import RetentionPolicy
from ledger_backup.storage.stores import LocalStore, S3Store
from runtime.events import parse_backup_trigger
from runtime.settings import ConfigurationError, Settings
from tests.unit.stand_ins import RecordingS3
from tests.unit.test_backup_run import NOW, client, items, ledger

REQUIRED = {"TABLE_NAME": "ledger", "BACKUP_BUCKET": "backups"}


def test_a_manual_backup_event_may_carry_a_label_and_its_retention() -> None:
    trigger = parse_backup_trigger({"label": "before-pipeline-v4", "retain_days": 365})
    assert trigger.label == BackupLabel("before-pipeline-v4", 365)
    assert trigger.description == "manual before-pipeline-v4"
    assert parse_backup_trigger({"label": "v4.1_rc-2"}).label == BackupLabel("v4.1_rc-2", None)
    assert parse_backup_trigger({}).label is None


@pytest.mark.parametrize(
    ("event", "problem"),
    [
        ({"retain_days": 30}, "retain_days needs a label"),
        ({"label": "Before-V4"}, "label: String should match pattern"),
        ({"label": "-v4"}, "label: String should match pattern"),
        ({"label": "x" * 65}, "label: String should match pattern"),
        ({"label": "v4", "retain_days": 0}, "retain_days: Input should be greater than or equal to 1"),
        ({"label": "v4", "retain_days": 3651}, "retain_days: Input should be less than or equal to 3650"),
        ({"label": "v4", "retain_days": "30"}, "retain_days: Input should be a valid integer"),
        ({"label": "v4", "keep": True}, "keep: Extra inputs are not permitted"),
    ],
)
def test_a_bad_label_or_retention_is_refused(event: dict[str, Any], problem: str) -> None:
    with pytest.raises(InvalidRequest, match=problem):
        parse_backup_trigger(event)


def test_the_retention_policy_is_read_from_the_environment() -> None:
    assert Settings.from_environ(REQUIRED).retention == RetentionPolicy(keep_last=7)
    environ = {**REQUIRED, "KEEP_LAST": "3", "KEEP_DAILY": "14", "KEEP_WEEKLY": "0", "KEEP_MONTHLY": "12"}
    assert Settings.from_environ(environ).retention == RetentionPolicy(3, 14, 0, 12)


@pytest.mark.parametrize(
    ("name", "value", "problem"),
    [
        ("KEEP_LAST", "0", "KEEP_LAST must be a positive integer"),
        ("KEEP_DAILY", "-1", "KEEP_DAILY must be a whole number \\(0 or more\\)"),
        ("KEEP_WEEKLY", "two", "KEEP_WEEKLY must be a whole number \\(0 or more\\)"),
    ],
)
def test_a_bad_retention_variable_is_named(name: str, value: str, problem: str) -> None:
    with pytest.raises(ConfigurationError, match=problem):
        Settings.from_environ({**REQUIRED, name: value})


def test_a_label_goes_through_a_pause_into_the_manifest(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    table = ledger([items(0, 7), items(100, 5)])
    paused = start_backup(
        client(table),
        store,
        "ledger",
        options=BackupOptions(total_segments=2, page_size=3),
        now=lambda: NOW,
        should_pause=lambda: True,
        scan_pages=table,
        label=BackupLabel("before-pipeline-v4", 365),
    )
    assert isinstance(paused, BackupInProgress)
    checkpoint = BackupProgress.from_json_bytes(store.get(paused.checkpoint_key), "checkpoint")
    retain_until = (NOW + timedelta(days=365)).isoformat()
    assert (checkpoint.label, checkpoint.retain_until) == ("before-pipeline-v4", retain_until)

    later = NOW + timedelta(minutes=20)  # the retention counts from the start, not from this invocation
    result = resume_backup(client(table), store, paused.checkpoint_key, now=lambda: later, scan_pages=table)
    assert isinstance(result, BackupResult)
    assert (result.label, result.retain_until) == ("before-pipeline-v4", retain_until)
    assert result.to_json()["label"] == "before-pipeline-v4"
    manifest = load_backup(store, result.manifest_key).manifest
    assert (manifest.label, manifest.retain_until) == ("before-pipeline-v4", retain_until)


def test_records_from_before_labels_still_read_and_say_nothing_of_one(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    folder = write_made_up_backup(store, "backups/", "ledger", utc("2026-11-01T03:00"))
    raw = store.get(layout.manifest_key(folder))
    assert b'"label"' not in raw  # not written when not set: the same document as before labels
    manifest = Manifest.from_json_bytes(raw, "old")
    assert (manifest.label, manifest.retain_until) == (None, None)
    progress = BackupProgress(
        table_name="ledger",
        table_arn="",
        schema=manifest.schema,
        folder=folder,
        started_at=NOW.isoformat(),
        page_size=10,
        invocations=1,
    )
    document = json.loads(progress.to_json_bytes())
    assert "label" not in document
    assert BackupProgress.from_json_bytes(json.dumps(document).encode(), "old").label is None


def test_a_manifest_with_a_bad_retain_until_is_refused(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    until = datetime(2027, 12, 1, tzinfo=UTC)
    folder = write_made_up_backup(
        store, "backups/", "ledger", utc("2026-11-01T03:00"), label="v4", retain_until=until
    )
    document = json.loads(store.get(layout.manifest_key(folder)))
    assert (document["label"], document["retain_until"]) == ("v4", until.isoformat())
    document["retain_until"] = "next year"
    with pytest.raises(CorruptBackup, match="retain_until 'next year' is not an ISO 8601 time"):
        Manifest.from_json_bytes(json.dumps(document).encode(), "hand-edited")


class RefusingS3(RecordingS3):
    """DeleteObjects answers 200 and lists the keys it refused, as S3 does."""

    def delete_objects(self, *, Bucket: str, Delete: dict[str, Any]) -> dict[str, Any]:  # noqa: N803
        super().delete_objects(Bucket=Bucket, Delete=Delete)
        return {
            "Errors": [
                {"Key": o["Key"], "Code": "AccessDenied", "Message": "Access Denied"}
                for o in Delete["Objects"]
            ]
        }


def test_a_delete_s3_refuses_in_its_200_answer_is_an_error() -> None:
    store = S3Store(RefusingS3(), "backups")  # type: ignore[arg-type]
    with pytest.raises(
        DeleteRefused, match=r"refused to delete 2 of 2 objects, e.g. s3://backups/a: AccessDenied"
    ):
        store.delete(["a", "b"])
