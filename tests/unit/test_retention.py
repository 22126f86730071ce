"""The retention policy over backups of made-up ages, with a clock given (never read): what stays and why."""

from datetime import datetime, timedelta
from pathlib import Path

import pytest

from devtools.made_up_backups import daily_backups, utc, write_made_up_backup
from ledger_backup import layout
from ledger_backup.catalog import survey
from ledger_backup.errors import InvalidRequest
from ledger_backup.retention import (
    KEEP,
    PRUNE,
    IncompleteFolder,
    RetentionPlan,
    RetentionPolicy,
    plan_retention,
)
from ledger_backup.storage.stores import LocalStore, ObjectLock

PREFIX = "backups/"
TABLE = "ledger"


@pytest.fixture
def store(tmp_path: Path) -> LocalStore:
    return LocalStore(tmp_path)


def plan(
    store: LocalStore,
    policy: RetentionPolicy,
    now: datetime,
    incomplete: list[IncompleteFolder] | None = None,
    locks: dict[str, ObjectLock] | None = None,
) -> RetentionPlan:
    return plan_retention(survey(store, PREFIX, TABLE), incomplete or [], policy, now, locks=locks)


def finished_days(plan: RetentionPlan, action: str) -> list[str]:
    """The UTC days of the complete backups with `action`, oldest first."""
    return sorted(
        v.backup.manifest.finished.date().isoformat()
        for v in plan.verdicts
        if v.action == action and v.backup is not None
    )


def reasons_by_day(plan: RetentionPlan) -> dict[str, tuple[str, ...]]:
    return {
        v.backup.manifest.finished.date().isoformat(): v.reasons
        for v in plan.verdicts
        if v.backup is not None
    }


def test_sixty_days_of_daily_backups_under_last_daily_weekly_monthly(store: LocalStore) -> None:
    """2026-10-06 .. 2026-12-04 (a Friday of ISO week 49), one backup a day at 03:00."""
    daily_backups(store, PREFIX, TABLE, utc("2026-12-04T03:00"), days=60)
    policy = RetentionPolicy(keep_last=7, keep_daily=14, keep_weekly=8, keep_monthly=12)
    result = plan(store, policy, utc("2026-12-04T06:00"))

    daily = [f"2026-11-{d}" for d in range(21, 31)] + [f"2026-12-0{d}" for d in range(1, 5)]
    mondays = ["2026-10-12", "2026-10-19", "2026-10-26", "2026-11-02", "2026-11-09", "2026-11-16"]
    firsts_of_months = ["2026-10-06", "2026-11-01"]  # the first backup of October is on the 6th
    assert finished_days(result, KEEP) == sorted(daily + mondays + firsts_of_months)
    assert len(finished_days(result, PRUNE)) == 60 - 22

    why = reasons_by_day(result)
    assert why["2026-12-04"] == ("newest 7", "daily: 2026-12-04")
    assert why["2026-11-28"] == ("newest 7", "daily: 2026-11-28")
    assert why["2026-11-27"] == ("daily: 2026-11-27",)
    assert why["2026-11-30"] == ("newest 7", "daily: 2026-11-30", "weekly: 2026-W49")
    assert why["2026-12-01"] == ("newest 7", "daily: 2026-12-01", "monthly: 2026-12")
    assert why["2026-11-23"] == ("daily: 2026-11-23", "weekly: 2026-W48")
    assert why["2026-10-12"] == ("weekly: 2026-W42",)  # the 8th week back: W42 .. W49
    assert why["2026-10-06"] == ("monthly: 2026-10",)
    assert why["2026-10-07"] == ("outside the policy",)


def test_keep_daily_is_a_window_of_calendar_days_from_now(store: LocalStore) -> None:
    """Days without a backup count too: 3 daily backups ending 10 days ago are all outside keep_daily 7."""
    daily_backups(store, PREFIX, TABLE, utc("2026-11-24T03:00"), days=3)
    result = plan(store, RetentionPolicy(keep_last=1, keep_daily=7), utc("2026-12-04T06:00"))
    assert finished_days(result, KEEP) == ["2026-11-24"]  # by keep_last alone
    assert reasons_by_day(result)["2026-11-24"] == ("newest 1",)


def test_the_first_backup_of_a_day_is_the_one_kept(store: LocalStore) -> None:
    """A later backup the same day (a re-run) never displaces the one that day already keeps."""
    early = write_made_up_backup(store, PREFIX, TABLE, utc("2026-12-03T03:00"))
    late = write_made_up_backup(store, PREFIX, TABLE, utc("2026-12-03T15:00"))
    newest = write_made_up_backup(store, PREFIX, TABLE, utc("2026-12-04T03:00"))
    result = plan(store, RetentionPolicy(keep_last=1, keep_daily=2), utc("2026-12-04T12:00"))
    actions = {v.folder: (v.action, v.reasons) for v in result.verdicts}
    assert actions[newest] == (KEEP, ("newest 1", "daily: 2026-12-04"))
    assert actions[early] == (KEEP, ("daily: 2026-12-03",))
    assert actions[late][0] == PRUNE


def test_iso_weeks_run_across_the_year_end(store: LocalStore) -> None:
    """2026 has 53 ISO weeks: Mon 2026-12-28 and Fri 2027-01-01 are 2026-W53; Mon 2027-01-04 starts W01."""
    w52 = write_made_up_backup(store, PREFIX, TABLE, utc("2026-12-21T03:00"))
    w53_monday = write_made_up_backup(store, PREFIX, TABLE, utc("2026-12-28T03:00"))
    w53_friday = write_made_up_backup(store, PREFIX, TABLE, utc("2027-01-01T03:00"))
    w01 = write_made_up_backup(store, PREFIX, TABLE, utc("2027-01-04T03:00"))
    result = plan(store, RetentionPolicy(keep_last=1, keep_weekly=2), utc("2027-01-05T12:00"))
    actions = {v.folder: (v.action, v.reasons) for v in result.verdicts}
    assert actions[w01] == (KEEP, ("newest 1", "weekly: 2027-W01"))
    assert actions[w53_monday] == (KEEP, ("weekly: 2026-W53",))
    assert actions[w53_friday][0] == PRUNE  # the week's second backup
    assert actions[w52][0] == PRUNE  # three weeks back counting this one


def test_months_run_across_the_year_end(store: LocalStore) -> None:
    november = write_made_up_backup(store, PREFIX, TABLE, utc("2026-11-30T03:00"))
    december = write_made_up_backup(store, PREFIX, TABLE, utc("2026-12-02T03:00"))
    december_later = write_made_up_backup(store, PREFIX, TABLE, utc("2026-12-31T03:00"))
    january = write_made_up_backup(store, PREFIX, TABLE, utc("2027-01-02T03:00"))
    result = plan(store, RetentionPolicy(keep_last=1, keep_monthly=2), utc("2027-01-20T12:00"))
    actions = {v.folder: (v.action, v.reasons) for v in result.verdicts}
    assert actions[january] == (KEEP, ("newest 1", "monthly: 2027-01"))
    assert actions[december] == (KEEP, ("monthly: 2026-12",))
    assert actions[december_later][0] == PRUNE
    assert actions[november][0] == PRUNE


def test_keep_last_is_a_floor_when_every_backup_is_old(store: LocalStore) -> None:
    """Backups stopped a year ago: the newest 7 stay, however old, whatever the windows say."""
    folders = daily_backups(store, PREFIX, TABLE, utc("2025-12-04T03:00"), days=10)
    policy = RetentionPolicy(keep_last=7, keep_daily=14, keep_weekly=8, keep_monthly=12)
    result = plan(store, policy, utc("2026-12-04T06:00"))
    kept = [v.folder for v in result.kept]
    assert kept == list(reversed(folders[3:]))  # newest first
    assert all(v.reasons == ("newest 7",) for v in result.kept)
    assert [v.folder for v in result.to_prune] == list(reversed(folders[:3]))


def test_a_label_keeps_its_backup_until_its_day_then_the_policy_decides(store: LocalStore) -> None:
    daily_backups(store, PREFIX, TABLE, utc("2026-12-04T03:00"), days=3)
    labeled = write_made_up_backup(
        store,
        PREFIX,
        TABLE,
        utc("2026-01-10T12:00"),
        label="before-pipeline-v4",
        retain_until=utc("2027-01-10T12:00"),
    )
    only_named = write_made_up_backup(store, PREFIX, TABLE, utc("2026-01-11T12:00"), label="just-a-name")
    policy = RetentionPolicy(keep_last=3)

    before = {v.folder: v for v in plan(store, policy, utc("2027-01-10T11:59")).verdicts}
    assert before[labeled].action == KEEP
    assert before[labeled].reasons == ("label before-pipeline-v4 until 2027-01-10T12:00:00Z",)
    assert before[only_named].action == PRUNE  # a label alone only names a backup

    after = {v.folder: v for v in plan(store, policy, utc("2027-01-10T12:00")).verdicts}
    assert after[labeled].action == PRUNE
    assert after[labeled].reasons == (
        "outside the policy; label before-pipeline-v4 ended 2027-01-10T12:00:00Z",
    )


def test_unreadable_and_incomplete_folders_are_never_pruned(store: LocalStore) -> None:
    daily_backups(store, PREFIX, TABLE, utc("2026-10-04T03:00"), days=3)
    broken = write_made_up_backup(store, PREFIX, TABLE, utc("2026-01-01T03:00"))
    store.put(layout.manifest_key(broken), b"{not json")
    running = write_made_up_backup(store, PREFIX, TABLE, utc("2026-01-02T03:00"), complete=False)
    cut_short = write_made_up_backup(store, PREFIX, TABLE, utc("2026-01-03T03:00"), complete=False)
    incomplete = [IncompleteFolder(running), IncompleteFolder(cut_short, prune_interrupted=True)]
    result = plan(store, RetentionPolicy(keep_last=1), utc("2026-12-04T06:00"), incomplete)
    verdicts = {v.folder: v for v in result.verdicts}
    assert verdicts[broken].action == KEEP
    assert verdicts[broken].kind == "unreadable"
    assert "never pruned" in verdicts[broken].reasons[0]
    assert verdicts[running].action == KEEP
    assert verdicts[running].reasons == (
        "no manifest (still running, or failed): never pruned by the policy",
    )
    assert verdicts[cut_short].action == PRUNE  # its prune began: only finishing it is left
    assert len([v for v in result.to_prune if v.kind == "complete"]) == 2


def test_a_lock_that_holds_keeps_the_backup_and_one_that_ended_does_not(store: LocalStore) -> None:
    old = write_made_up_backup(store, PREFIX, TABLE, utc("2026-11-01T03:00"))
    write_made_up_backup(store, PREFIX, TABLE, utc("2026-12-04T03:00"))
    now = utc("2026-12-04T06:00")
    held = plan(
        store, RetentionPolicy(keep_last=1), now, locks={old: ObjectLock(until=now + timedelta(days=1))}
    )
    [verdict] = [v for v in held.verdicts if v.folder == old]
    assert verdict.action == KEEP
    assert verdict.reasons == ("locked until 2026-12-05T06:00:00Z, not deleted yet",)
    ended = plan(store, RetentionPolicy(keep_last=1), now, locks={old: ObjectLock(until=now)})
    assert [v.action for v in ended.verdicts if v.folder == old] == [PRUNE]
    hold = plan(store, RetentionPolicy(keep_last=1), now, locks={old: ObjectLock(legal_hold=True)})
    assert [v.reasons for v in hold.verdicts if v.folder == old] == [("under a legal hold, not deleted yet",)]


def test_a_clock_without_a_zone_is_refused(store: LocalStore) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        plan(store, RetentionPolicy(), datetime(2026, 12, 4))


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({"keep_last": 0}, "keep_last must be a whole number from 1"),
        ({"keep_daily": -1}, "keep_daily must be a whole number from 0"),
        ({"keep_monthly": 10**6}, "keep_monthly must be a whole number from 0"),
    ],
)
def test_a_policy_out_of_bounds_is_refused(fields: dict[str, int], problem: str) -> None:
    with pytest.raises(InvalidRequest, match=problem):
        RetentionPolicy(**fields)


def test_the_backup_just_made_is_kept_even_if_a_manifest_claims_a_later_time(store: LocalStore) -> None:
    """A manifest dated in the future (a skewed clock, a hand) would otherwise push it out of keep_last 1."""
    just_made = write_made_up_backup(store, PREFIX, TABLE, utc("2026-12-04T03:00"))
    future = write_made_up_backup(store, PREFIX, TABLE, utc("2030-01-01T03:00"))
    catalog = survey(store, PREFIX, TABLE)
    now = utc("2026-12-04T03:01")
    verdicts = plan_retention(catalog, [], RetentionPolicy(keep_last=1), now, protected=[just_made]).verdicts
    assert [(v.folder, v.action, v.reasons) for v in verdicts] == [
        (future, KEEP, ("newest 1",)),
        (just_made, KEEP, ("the backup just made",)),
    ]
