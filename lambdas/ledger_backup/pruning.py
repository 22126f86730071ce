"""Deleting the backups the retention policy lets go (retention.py decides; this reads and deletes).

Per backup, in this order: a `pruning.json` marker, the manifest, then every other object. Once
the manifest is gone the backup is no longer complete, so it is never listed nor restored half
deleted; if the prune dies after that, the marker tells the next prune to finish the folder rather
than take it for a backup still running. A backup whose objects are under S3 Object Lock retention
that has not ended is not touched at all (in a versioned bucket a plain delete of a locked object
"succeeds" by hiding it behind a delete marker, which is just what must not happen to a backup S3
keeps anyway). Each folder is pruned on its own: one that fails is reported, the others go on.
"""

import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ledger_backup import layout
from ledger_backup.catalog import survey
from ledger_backup.retention import (
    COMPLETE,
    PRUNE,
    IncompleteFolder,
    RetentionPlan,
    RetentionPolicy,
    Verdict,
    plan_retention,
)
from ledger_backup.storage.stores import BackupStore, ObjectLock, S3Store

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PruneFailure:
    folder: str
    problem: str


@dataclass(frozen=True)
class PruneResult:
    """The plan, and what became of its prune verdicts (all of them still to do on a dry run)."""

    plan: RetentionPlan
    dry_run: bool
    deleted: list[str] = field(default_factory=list)
    failed: list[PruneFailure] = field(default_factory=list)

    @property
    def locked(self) -> list[Verdict]:
        return [v for v in self.plan.verdicts if v.locked]

    @property
    def never_pruned(self) -> list[Verdict]:
        """Folders without a readable manifest that stay: a person's to look at, never the policy's."""
        return [v for v in self.plan.kept if v.backup is None]

    def to_json(self, store: BackupStore) -> dict[str, Any]:
        """The backup function's `pruned` answer and the CLI's --json: every folder and its fate."""
        failed = {f.folder: f.problem for f in self.failed}
        return {
            "dry_run": self.dry_run,
            "now": self.plan.now.isoformat(),
            "policy": self.plan.policy.to_json(),
            "deleted": [store.location(f) for f in self.deleted],
            "kept": len(self.plan.kept),
            "locked": [
                {
                    "backup": store.location(v.folder),
                    "until": _iso(v.lock.until),
                    "legal_hold": v.lock.legal_hold,
                }
                for v in self.locked
                if v.lock is not None
            ],
            "never_pruned": [store.location(v.folder) for v in self.never_pruned],
            "failed": [{"backup": store.location(f.folder), "problem": f.problem} for f in self.failed],
            "backups": [_row(store, v, self.dry_run, failed) for v in self.plan.verdicts],
        }


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(UTC).isoformat()


def _row(store: BackupStore, verdict: Verdict, dry_run: bool, failed: dict[str, str]) -> dict[str, Any]:
    manifest = verdict.backup.manifest if verdict.backup is not None else None
    if verdict.action != PRUNE:
        outcome = "kept"
    elif verdict.folder in failed:
        outcome = "failed"
    else:
        outcome = "would delete" if dry_run else "deleted"
    return {
        "backup": store.location(verdict.folder),
        "status": verdict.kind,
        "action": verdict.action,
        "outcome": outcome,
        "reasons": list(verdict.reasons) + ([failed[verdict.folder]] if verdict.folder in failed else []),
        "finished_at": manifest.finished_at if manifest is not None else None,
        "label": manifest.label if manifest is not None else None,
        "retain_until": manifest.retain_until if manifest is not None else None,
    }


def folders_of(store: BackupStore, prefix: str, table_name: str) -> dict[str, list[str]]:
    """Every backup folder of the table (one level below its folder) with its keys, in listing order."""
    table_folder = layout.table_folder(prefix, table_name)
    folders: dict[str, list[str]] = {}
    for key in store.list_keys(table_folder):
        name, slash, _ = key[len(table_folder) :].partition("/")
        if name and slash:
            folders.setdefault(f"{table_folder}{name}/", []).append(key)
    return folders


def _lock_of(store: BackupStore, keys: Iterable[str]) -> ObjectLock | None:
    """The backup's lock: the latest retention of any of its objects, a legal hold on any."""
    if not isinstance(store, S3Store):  # only S3 locks objects
        return None
    locks = [lock for lock in (store.object_lock(k) for k in keys) if lock is not None]
    if not locks:
        return None
    untils = [lock.until for lock in locks if lock.until is not None]
    return ObjectLock(
        until=max(untils) if untils else None, legal_hold=any(lock.legal_hold for lock in locks)
    )


def plan_prune(
    store: BackupStore,
    prefix: str,
    table_name: str,
    policy: RetentionPolicy,
    now: datetime,
    *,
    protected: Iterable[str] = (),
) -> tuple[RetentionPlan, dict[str, list[str]]]:
    """The policy's verdicts for the table's folders, Object Lock retentions read for those it would prune."""
    folders = folders_of(store, prefix, table_name)
    catalog = survey(store, prefix, table_name)
    known = {b.folder for b in catalog.backups} | {u.folder for u in catalog.unreadable}
    incomplete = [
        IncompleteFolder(folder, prune_interrupted=folder + layout.PRUNING_NAME in keys)
        for folder, keys in folders.items()
        if folder not in known
    ]
    protected = tuple(protected)
    plan = plan_retention(catalog, incomplete, policy, now, protected=protected)
    locks = {}
    for verdict in plan.to_prune:
        lock = _lock_of(store, folders.get(verdict.folder, []))
        if lock is not None and lock.holds_at(now):
            locks[verdict.folder] = lock
    if locks:
        plan = plan_retention(catalog, incomplete, policy, now, locks=locks, protected=protected)
    return plan, folders


def prune(
    store: BackupStore,
    prefix: str,
    table_name: str,
    policy: RetentionPolicy,
    now: datetime,
    *,
    dry_run: bool = False,
    protected: Iterable[str] = (),
) -> PruneResult:
    """Delete what the policy lets go (nothing on a dry run), each folder manifest first.

    `protected`: backup folders kept whatever the policy says (retention.plan_retention).
    """
    plan, folders = plan_prune(store, prefix, table_name, policy, now, protected=protected)
    result = PruneResult(plan, dry_run)
    if dry_run:
        return result
    for verdict in plan.to_prune:
        try:
            _delete_folder(store, verdict, folders.get(verdict.folder, []), now)
        except Exception as exc:  # one folder's failure must not keep the others, nor hide
            logger.warning(
                "could not prune a backup", extra={"backup": store.location(verdict.folder)}, exc_info=True
            )
            result.failed.append(PruneFailure(verdict.folder, f"not deleted: {exc}"))
        else:
            result.deleted.append(verdict.folder)
    logger.info(
        "backups pruned",
        extra={
            "table": table_name,
            "deleted": len(result.deleted),
            "kept": len(plan.kept),
            "locked": len(result.locked),
            "failed": len(result.failed),
        },
    )
    return result


def _delete_folder(store: BackupStore, verdict: Verdict, keys: list[str], now: datetime) -> None:
    """Marker, manifest, the rest: a folder cut short here is finished by the next prune.

    A complete backup's manifest goes first even if the listing (taken a moment before the
    manifests were read) missed it: its data files are never deleted while it still looks whole.
    """
    folder = verdict.folder
    marker = folder + layout.PRUNING_NAME
    manifest = layout.manifest_key(folder)
    if verdict.kind == COMPLETE or manifest in keys:
        record = {"pruned_at": now.isoformat(), "reasons": list(verdict.reasons)}
        store.put(marker, json.dumps(record).encode("utf-8"))
        store.delete([manifest])
    store.delete([k for k in keys if k not in (manifest, marker)])
    store.delete([marker])
    logger.info("backup pruned", extra={"backup": store.location(folder), "objects": len(keys)})
