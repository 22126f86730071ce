"""Which backups a table keeps: the retention policy and the pure decision over a catalog and a clock.

Nothing here reads the clock or a store: `plan_retention` is given the catalog, the folders that
have no manifest, the Object Lock retentions it must respect, and `now`, and answers keep or prune
for every folder with the reasons. The pruner (pruning.py) does the reading and the deleting.

The rules, like restic's and borg's `forget`, with three deliberate differences:

- keep_last N: the newest N complete backups, however old. This is the floor: if backups stop,
  the last good ones are never aged out.
- keep_daily N: the *first* complete backup of each of the last N *calendar* days (UTC), today
  included; keep_weekly N the first of each of the last N ISO weeks (Monday to Sunday, the week a
  year's first Thursday falls in is week 1), keep_monthly N the first of each of the last N months.
  restic and borg keep the *last* backup of a period; the first is kept here so that what a period
  keeps is settled as soon as it has a backup: a later backup the same day (a labeled one before a
  change, a re-run) never displaces the one already kept, and a prune run at any hour agrees with
  one run at any other. restic and borg also count only periods that *have* a backup, reaching back
  past gaps; here N is a window of calendar periods counted from `now`, so "keep_daily 14" always
  means "one per day for two weeks back", and a stop in backups is covered by keep_last instead.
- A label with a retention (`retain_until` in the manifest) keeps its backup until that moment.
- Never pruned: a folder without a manifest (a backup still running has none yet, a failed one
  never gets one), a manifest that cannot be read (a person must look), and a backup whose objects
  are under Object Lock retention that has not ended (S3 would keep its data anyway).

A backup's period is taken from the finish time its manifest records (the time the catalog orders
by), never from its folder's name.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Final, Literal

from ledger_backup.catalog import Backup, Catalog
from ledger_backup.contract import DEFAULT_KEEP_LAST
from ledger_backup.errors import InvalidRequest
from ledger_backup.storage.stores import ObjectLock

KEEP: Final = "keep"
PRUNE: Final = "prune"
Action = Literal["keep", "prune"]

COMPLETE: Final = "complete"
UNREADABLE: Final = "unreadable"
INCOMPLETE: Final = "incomplete"
Kind = Literal["complete", "unreadable", "incomplete"]

# Past these a number is a typo: 100 years of daily backups, 10 years of labels.
MAX_KEEP: Final = 36_500
MAX_RETAIN_DAYS: Final = 3650


@dataclass(frozen=True)
class RetentionPolicy:
    """How many backups of each kind a table keeps (module docstring); keep_last is at least 1."""

    keep_last: int = DEFAULT_KEEP_LAST
    keep_daily: int = 0
    keep_weekly: int = 0
    keep_monthly: int = 0

    def __post_init__(self) -> None:
        if not 1 <= self.keep_last <= MAX_KEEP:
            raise InvalidRequest(
                f"keep_last must be a whole number from 1 to {MAX_KEEP:,}, not {self.keep_last!r}: "
                "the newest backups are never all pruned"
            )
        for name in ("keep_daily", "keep_weekly", "keep_monthly"):
            value = getattr(self, name)
            if not 0 <= value <= MAX_KEEP:
                raise InvalidRequest(f"{name} must be a whole number from 0 to {MAX_KEEP:,}, not {value!r}")

    def describe(self) -> str:
        return (
            f"keep_last {self.keep_last}, keep_daily {self.keep_daily}, "
            f"keep_weekly {self.keep_weekly}, keep_monthly {self.keep_monthly}"
        )

    def to_json(self) -> dict[str, int]:
        return {
            "keep_last": self.keep_last,
            "keep_daily": self.keep_daily,
            "keep_weekly": self.keep_weekly,
            "keep_monthly": self.keep_monthly,
        }


@dataclass(frozen=True)
class IncompleteFolder:
    """A backup folder without a manifest; `prune_interrupted` when a prune's marker is in it."""

    folder: str
    prune_interrupted: bool = False


@dataclass(frozen=True)
class Verdict:
    """One folder's fate and why; `backup` is None for a folder without a readable manifest."""

    folder: str
    kind: Kind
    action: Action
    reasons: tuple[str, ...]
    backup: Backup | None = None
    lock: ObjectLock | None = None

    @property
    def locked(self) -> bool:
        return self.lock is not None


@dataclass(frozen=True)
class RetentionPlan:
    """Every folder of a table, newest complete backups first, then the unreadable and incomplete."""

    policy: RetentionPolicy
    now: datetime
    verdicts: list[Verdict] = field(default_factory=list)

    @property
    def to_prune(self) -> list[Verdict]:
        return [v for v in self.verdicts if v.action == PRUNE]

    @property
    def kept(self) -> list[Verdict]:
        return [v for v in self.verdicts if v.action == KEEP]


def day_of(moment: datetime) -> date:
    return moment.astimezone(UTC).date()


def iso_week_of(moment: datetime) -> tuple[int, int]:
    """(ISO year, ISO week): 2027-01-01 is a Friday and so falls in 2026-W53."""
    year, week, _ = day_of(moment).isocalendar()
    return year, week


def month_of(moment: datetime) -> tuple[int, int]:
    day = day_of(moment)
    return day.year, day.month


def _day_index(moment: datetime) -> int:
    return day_of(moment).toordinal()


def _week_index(moment: datetime) -> int:
    """Weeks since an ISO Monday: consecutive across year ends (52- and 53-week years alike)."""
    return (_day_index(moment) - 1) // 7  # date.fromordinal(1) is Monday 0001-01-01


def _month_index(moment: datetime) -> int:
    year, month = month_of(moment)
    return year * 12 + month - 1


def _day_name(moment: datetime) -> str:
    return day_of(moment).isoformat()


def _week_name(moment: datetime) -> str:
    year, week = iso_week_of(moment)
    return f"{year}-W{week:02d}"


def _month_name(moment: datetime) -> str:
    year, month = month_of(moment)
    return f"{year}-{month:02d}"


_PERIODS = (
    ("keep_daily", _day_index, _day_name),
    ("keep_weekly", _week_index, _week_name),
    ("keep_monthly", _month_index, _month_name),
)


def _moment(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def retain_until_of(backup: Backup) -> datetime | None:
    """The manifest's `retain_until` as a time (it is checked when the manifest is read)."""
    text = backup.manifest.retain_until
    if text is None:
        return None
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def plan_retention(
    catalog: Catalog,
    incomplete: Iterable[IncompleteFolder],
    policy: RetentionPolicy,
    now: datetime,
    *,
    locks: Mapping[str, ObjectLock] | None = None,
    protected: Iterable[str] = (),
) -> RetentionPlan:
    """Keep or prune each folder, with every reason that keeps it (or the one that prunes it).

    `catalog.backups` is newest first (catalog.survey). `locks` maps a folder to its Object Lock;
    one that still holds at `now` keeps the backup whatever the policy says. `protected` folders
    (the backup that was just made) are kept whatever the policy says: a manifest dated in the
    future by a skewed clock or a hand must not push the new backup out of keep_last.
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    locks = locks or {}
    reasons = _policy_reasons(catalog.backups, policy, now)
    for folder in protected:
        if folder in reasons:
            reasons[folder].insert(0, "the backup just made")
    verdicts = [_complete(b, reasons[b.folder], policy, now, locks.get(b.folder)) for b in catalog.backups]
    verdicts += [
        Verdict(
            u.folder,
            UNREADABLE,
            KEEP,
            (f"manifest unreadable ({u.problem}): never pruned, look at it by hand",),
        )
        for u in catalog.unreadable
    ]
    verdicts += [_incomplete(folder, now, locks.get(folder.folder)) for folder in incomplete]
    return RetentionPlan(policy, now, verdicts)


def _policy_reasons(backups: list[Backup], policy: RetentionPolicy, now: datetime) -> dict[str, list[str]]:
    """For each backup (newest first), the rules of the policy that keep it."""
    reasons: dict[str, list[str]] = {b.folder: [] for b in backups}
    for backup in backups[: policy.keep_last]:
        reasons[backup.folder].append(f"newest {policy.keep_last}")
    for setting, index, name in _PERIODS:
        count = getattr(policy, setting)
        if count == 0:
            continue
        oldest = index(now) - (count - 1)
        rule = setting.removeprefix("keep_")
        claimed: set[int] = set()
        for backup in reversed(backups):  # oldest first: the first backup of a period claims it
            period = index(backup.manifest.finished)
            if period >= oldest and period not in claimed:
                claimed.add(period)
                reasons[backup.folder].append(f"{rule}: {name(backup.manifest.finished)}")
    return reasons


def _complete(
    backup: Backup, why: list[str], policy: RetentionPolicy, now: datetime, lock: ObjectLock | None
) -> Verdict:
    until = retain_until_of(backup)
    if until is not None and until > now:
        why.append(f"label {backup.manifest.label or '(none)'} until {_moment(until)}")
    if lock is not None and lock.holds_at(now):
        why.append(lock.describe())
    else:
        lock = None
    if why:
        return Verdict(backup.folder, COMPLETE, KEEP, tuple(why), backup, lock)
    return Verdict(backup.folder, COMPLETE, PRUNE, (_outside(backup),), backup)


def _incomplete(folder: IncompleteFolder, now: datetime, lock: ObjectLock | None) -> Verdict:
    if not folder.prune_interrupted:
        return Verdict(
            folder.folder,
            INCOMPLETE,
            KEEP,
            ("no manifest (still running, or failed): never pruned by the policy",),
        )
    if lock is not None and lock.holds_at(now):
        return Verdict(folder.folder, INCOMPLETE, KEEP, ("an interrupted prune", lock.describe()), lock=lock)
    return Verdict(folder.folder, INCOMPLETE, PRUNE, ("an interrupted prune: its manifest is gone",))


def _outside(backup: Backup) -> str:
    """Why a backup goes: past the floor and claimed by no period (nor by its expired label).

    The policy itself is stated once beside the verdicts (RetentionPlan.policy), not in each.
    """
    until = retain_until_of(backup)
    if until is None:
        return "outside the policy"
    return f"outside the policy; label {backup.manifest.label or '(none)'} ended {_moment(until)}"
