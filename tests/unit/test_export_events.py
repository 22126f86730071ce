"""The backup function's export events and BACKUP_METHOD, refused before any work when they do not fit."""

import pytest

from ledger_backup.errors import InvalidRequest
from runtime.events import parse_backup_trigger
from runtime.settings import ConfigurationError, Settings

ENV = {"TABLE_NAME": "pipeline-ledger", "BACKUP_BUCKET": "jsmith-backups"}


def test_the_schedules_flag_events_pick_the_action() -> None:
    assert parse_backup_trigger({"export_poll": True}).action == "export_poll"
    assert parse_backup_trigger({"incremental": True}).action == "incremental"
    assert parse_backup_trigger({}).action == "backup"


@pytest.mark.parametrize(
    ("event", "problem"),
    [
        ({"export_poll": False}, "invalid ExportPollRequest: export_poll: Value error, must be true"),
        (
            {"incremental": "yes"},
            "invalid IncrementalExportRequest: incremental: Input should be a valid boolean",
        ),
        ({"incremental": True, "from": "2026-12-04"}, "invalid IncrementalExportRequest: from: Extra inputs"),
    ],
)
def test_a_flag_event_that_does_not_fit_is_refused(event: dict[str, object], problem: str) -> None:
    with pytest.raises(InvalidRequest) as refused:
        parse_backup_trigger(event)
    assert str(refused.value).startswith(problem)


def test_backup_method_defaults_to_scan_and_must_be_known() -> None:
    assert Settings.from_environ(ENV).backup_method == "scan"
    assert Settings.from_environ({**ENV, "BACKUP_METHOD": "export"}).backup_method == "export"
    with pytest.raises(ConfigurationError, match="BACKUP_METHOD must be one of scan, export, not 'snapshot'"):
        Settings.from_environ({**ENV, "BACKUP_METHOD": "snapshot"})
