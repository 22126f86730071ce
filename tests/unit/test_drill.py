"""The drill's names, its event and its answer: what keeps a drill away from the ledger, without services."""

from datetime import UTC, datetime

import pytest

from ledger_backup.errors import InvalidRequest
from ledger_backup.restore.drill import DrillPassed, check_drill_table, drill_table_name, proof_fits
from runtime.events import DrillEvent, RestoreRequest, parse_restore_event
from runtime.policy import check_drill
from runtime.settings import Settings

SETTINGS = Settings(
    table_name="jsmith-pipeline-ledger",
    bucket="jsmith-backups",
    prefix="backups/",
    scan_segments=4,
    restore_writers=4,
    continuation_margin_seconds=60,
    max_items_per_second=None,
    max_invocations=96,
)


def test_a_drill_table_is_named_after_the_ledger_and_the_time() -> None:
    name = drill_table_name("jsmith-pipeline-ledger", datetime(2026, 12, 6, 5, 0, 7, tzinfo=UTC))
    assert name == "jsmith-pipeline-ledger-drill-20261206T050007Z"
    check_drill_table(name, "jsmith-pipeline-ledger")


@pytest.mark.parametrize(
    "table",
    [
        "jsmith-pipeline-ledger",  # the ledger itself
        "jsmith-pipeline-ledger-restored",  # a restore target, not a drill's
        "other-ledger-drill-20261206T050007Z",  # another table's drill
        "jsmith-pipeline-ledger-drill-" + "x" * 230,  # longer than DynamoDB allows
        "jsmith-pipeline-ledger-drill-a/b",  # not a table name
    ],
)
def test_only_a_drill_table_of_the_ledger_is_a_drill_target(table: str) -> None:
    with pytest.raises(InvalidRequest, match="never into the ledger"):
        check_drill_table(table, "jsmith-pipeline-ledger")


def test_a_ledger_name_too_long_for_a_drill_table_is_refused_before_anything_runs() -> None:
    with pytest.raises(InvalidRequest, match="at most 255 characters"):
        drill_table_name("l" * 240)


def test_the_drill_event_is_picked_by_its_key_and_takes_only_s3_key() -> None:
    assert parse_restore_event({"drill": True}) == DrillEvent(drill=True)
    key = "backups/jsmith-pipeline-ledger/2026-12-06T05-00-00.000Z/manifest.json"
    assert parse_restore_event({"drill": True, "s3_key": key}).s3_key == key  # type: ignore[union-attr]
    assert isinstance(parse_restore_event({"s3_key": key, "target_table": "t-restored"}), RestoreRequest)
    with pytest.raises(InvalidRequest, match="target_table: Extra inputs are not permitted"):
        parse_restore_event({"drill": True, "target_table": "jsmith-pipeline-ledger"})
    with pytest.raises(InvalidRequest, match="must be true"):
        parse_restore_event({"drill": False})
    with pytest.raises(InvalidRequest, match="drill: Input should be a valid boolean"):
        parse_restore_event({"drill": "yes"})


def test_a_drill_reads_only_the_functions_own_backups() -> None:
    check_drill(DrillEvent(drill=True), SETTINGS)
    check_drill(DrillEvent(drill=True, s3_key="backups/jsmith-pipeline-ledger/x/manifest.json"), SETTINGS)
    for key in ("elsewhere/manifest.json", "backups/../secrets/manifest.json"):
        with pytest.raises(InvalidRequest, match="outside the backup prefix"):
            check_drill(DrillEvent(drill=True, s3_key=key), SETTINGS)


def test_the_answer_says_drill_passed() -> None:
    passed = DrillPassed(
        restore_id="20261206T050007Z-1a2b3c4d",
        backup="backups/jsmith-pipeline-ledger/2026-12-06T03-00-00.000Z/manifest.json",
        drill_table="jsmith-pipeline-ledger-drill-20261206T050007Z",
        items_restored=399,
        items_compared=399,
        digest="ab" * 32,
        seconds=12.5,
        table_deleted=True,
    )
    answer = passed.to_json()
    assert answer["status"] == "drill-passed"
    assert list(answer) == [
        "status",
        "restore_id",
        "backup",
        "drill_table",
        "items_restored",
        "items_compared",
        "digest",
        "seconds",
        "table_deleted",
    ]


@pytest.mark.parametrize(
    ("time_left", "restore_seconds", "fits"),
    [(900.0, 30.0, True), (90.0, 30.0, True), (89.0, 30.0, False), (61.0, 0.5, True), (60.2, 0.5, False)],
)
def test_the_proof_starts_only_with_as_much_time_beyond_the_margin_as_the_restore_took(
    time_left: float, restore_seconds: float, fits: bool
) -> None:
    assert proof_fits(time_left, 60.0, restore_seconds) is fits
