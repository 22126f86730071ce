"""Restore drills: prove, on a schedule, that a backup restores to exactly its own items.

A drill restores a backup (the newest complete one by default) into a new table
`<ledger>-drill-<UTC time>` that it creates itself (tagged like every table a restore creates,
so the restore role may delete it), proves that table equal to the backup by count and by an
order-independent digest of the items (restore/verify.py `compare_with_table`: the backup is read
and checked through again, the table read by a consistent Scan), then deletes the table and waits
for it to go. A failure at any step deletes the drill table if it exists and raises
RestoreDrillFailed naming the backup and the problem.

The ledger is never a drill's target: the table's name is checked before the restore, when a
drill resumes from a checkpoint (which anyone with access to the bucket could have written),
and before the table is deleted. A long drill checkpoints and continues like any restore; its
checkpoints record `drill`, so a continued or resumed drill stays a drill. The proof gets an
invocation of its own (a checkpoint with every item written, then a continuation) when the
writes needed more than one invocation or left less time than they took.
"""

import logging
import math
import re
import time
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError, WaiterError

from ledger_backup.aws.errors import error_code
from ledger_backup.aws.tables import describe_table
from ledger_backup.errors import CorruptBackup, InvalidRequest, RestoreDrillFailed, TargetBusy
from ledger_backup.names import TABLE_NAME_PATTERN
from ledger_backup.restore.claim import TargetClaims
from ledger_backup.restore.journal import (
    VERIFY,
    WRITE,
    RestoreInProgress,
    RestoreJournal,
    RestoreProgress,
    RestoreResult,
)
from ledger_backup.restore.run import RestoreOptions, resume_restore, start_restore
from ledger_backup.restore.target import delete_created_table
from ledger_backup.restore.verify import compare_with_table
from ledger_backup.sources import Source, SourceKind, open_latest, open_source

if TYPE_CHECKING:
    from collections.abc import Callable

    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import WaiterConfigTypeDef

    from ledger_backup.storage.stores import BackupStore

__all__ = [
    "DrillPassed",
    "abandon_drill",
    "check_drill_table",
    "drill_table_name",
    "proof_fits",
    "resume_drill",
    "start_drill",
]

logger = logging.getLogger(__name__)

DRILL_INFIX = "-drill-"
# DynamoDB deletes a small table in seconds, a large one may take minutes; the drill waits up to 5.
_DELETE_WAITER: "WaiterConfigTypeDef" = {"Delay": 2, "MaxAttempts": 150}


@dataclass(frozen=True)
class DrillPassed:
    """A drill's answer: the backup restored, the table proven equal to it, and the table deleted."""

    restore_id: str
    backup: str  # the manifest's key
    drill_table: str
    items_restored: int
    items_compared: int
    digest: str  # hex of the table's content digest, equal to the backup's (restore/digest.py)
    seconds: float
    table_deleted: bool

    def to_json(self) -> dict[str, Any]:
        return {"status": "drill-passed", **asdict(self)}


def drill_table_name(ledger_table: str, now: datetime | None = None) -> str:
    """`<ledger>-drill-<UTC time>`, e.g. `ledger-drill-20261204T180000Z`: new at every drill."""
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
    name = f"{ledger_table}{DRILL_INFIX}{stamp}"
    check_drill_table(name, ledger_table)
    return name


def check_drill_table(table: str, ledger_table: str) -> None:
    """InvalidRequest unless `table` is a drill table of `ledger_table`, which is never the ledger itself."""
    prefix = f"{ledger_table}{DRILL_INFIX}"
    if table == ledger_table or not table.startswith(prefix) or not re.fullmatch(TABLE_NAME_PATTERN, table):
        raise InvalidRequest(
            f"{table!r} is not a drill table of {ledger_table!r}: a drill restores only into a new table "
            f"named {prefix}<UTC time> (at most 255 characters), never into the ledger"
        )


def start_drill(
    dynamodb: "DynamoDBClient",
    store: "BackupStore",
    prefix: str,
    ledger_table: str,
    *,
    s3_key: str | None,
    journal: RestoreJournal,
    options: RestoreOptions,
    should_pause: "Callable[[], bool]",
    time_left: "Callable[[], float]" = lambda: math.inf,
    margin_seconds: float = 0.0,
) -> DrillPassed | RestoreInProgress:
    """Restore the backup (`s3_key`, else the newest complete one) into a new drill table, then prove it.

    The proof is made in this invocation when the `time_left()` (seconds) beyond `margin_seconds`
    allows it (`proof_fits`), else handed to the next one (a checkpoint with every item written).
    Raises RestoreDrillFailed, after deleting the drill table if there is one, on any failure.
    """
    began = time.monotonic()
    backup = s3_key or f"the newest backup of {ledger_table!r}"
    table = drill_table_name(ledger_table)
    try:
        source = open_latest(store, prefix, ledger_table) if s3_key is None else open_source(store, s3_key)
        backup = source.key
        if source.kind != SourceKind.LEDGER_BACKUP:
            raise InvalidRequest(
                f"{source.location} is a {source.kind} backup: a drill proves this tool's backups only "
                "(their manifest records the item count and checksums); give a manifest.json's key"
            )
        if describe_table(dynamodb, table) is not None:
            raise TargetBusy(f"drill table {table!r} exists already: run the drill again in a second")
        drill_options = replace(
            options,
            create_table=True,
            overwrite=False,
            mode="",
            keys=None,
            keys_file=None,
            key_schema=None,
            drill=True,
        )
        outcome = start_restore(
            dynamodb, source, table, options=drill_options, journal=journal, should_pause=should_pause
        )
        if isinstance(outcome, RestoreInProgress):
            return outcome
        if not proof_fits(time_left(), margin_seconds, outcome.duration_seconds):
            return _hand_off(journal, source, outcome)
        return _prove(dynamodb, source, outcome, ledger_table, began)
    except TargetBusy as exc:  # the table is not this drill's (it existed, or someone else made it): kept
        raise RestoreDrillFailed(f"restore drill of {backup} failed: {exc}") from exc
    except Exception as exc:
        _forget_table(journal, table)
        raise _failed(dynamodb, backup, table, exc) from exc


def resume_drill(
    dynamodb: "DynamoDBClient",
    journal: RestoreJournal,
    checkpoint_key: str,
    progress: RestoreProgress,
    ledger_table: str,
    *,
    options: RestoreOptions,
    should_pause: "Callable[[], bool]",
) -> DrillPassed | RestoreInProgress:
    """Carry on a drill from its checkpoint (`progress` is what it holds).

    A checkpoint saved once every item was written (and the restore's result recorded) is the
    proof's turn: it is made here. Otherwise the writes go on, and once they end the proof is
    handed to a fresh invocation, since these writes took part of this one's time.
    """
    began = time.monotonic()
    check_drill_table(progress.target_table, ledger_table)  # before anything, even the clean-up, touches it
    if not progress.table_created:
        raise InvalidRequest(
            f"the checkpoint of drill {progress.restore_id} says its table {progress.target_table!r} "
            "was not created by the drill: a drill writes only into a table of its own"
        )
    try:
        recorded = journal.result(progress.restore_id) if _all_written(progress) else None
        if recorded is not None:
            source = open_source(journal.store, progress.source_key)
            passed = _prove(dynamodb, source, RestoreResult.from_json(recorded), ledger_table, began)
            _discard(journal, progress.restore_id)
            return passed
        outcome = resume_restore(
            dynamodb, journal, checkpoint_key, options=options, should_pause=should_pause
        )
        if isinstance(outcome, RestoreInProgress):
            return outcome
        return _hand_off(journal, open_source(journal.store, progress.source_key), outcome)
    except Exception as exc:
        _forget(journal, progress.target_table, progress.restore_id)
        raise _failed(dynamodb, progress.source_key, progress.target_table, exc) from exc


def abandon_drill(
    dynamodb: "DynamoDBClient", journal: RestoreJournal, paused: RestoreInProgress, problem: Exception
) -> RestoreDrillFailed:
    """A paused drill that cannot carry on (its chain at the cap, the self-invocation refused): tidy up.

    Its table is deleted and its checkpoints discarded: a drill is run again, never resumed by hand.
    """
    _forget(journal, paused.target_table, paused.restore_id)
    return _failed(dynamodb, paused.source, paused.target_table, problem)


def proof_fits(time_left: float, margin_seconds: float, restore_seconds: float) -> bool:
    """Whether the proof may start in this invocation: the time left beyond the margin must be at
    least the restore's own duration. The proof reads the backup once and Scans the table; the
    restore read the same backup and wrote every item, which is slower than a Scan reads it."""
    return time_left - margin_seconds >= restore_seconds


def _all_written(progress: RestoreProgress) -> bool:
    return (
        progress.phase != VERIFY
        and progress.expected_items is not None
        and progress.items_restored >= progress.expected_items
    )


def _hand_off(journal: RestoreJournal, source: Source, restored: RestoreResult) -> RestoreInProgress:
    """Every item is in the drill table and the result recorded: a checkpoint of that, so the next
    invocation (a whole one) makes the proof and deletes the table."""
    if source.schema is None:  # pragma: no cover - a drill opens this tool's backups only, which record it
        raise CorruptBackup(f"{source.location} records no key schema")
    progress = RestoreProgress(
        restore_id=restored.restore_id,
        source_key=source.key,
        source_location=source.location,
        target_table=restored.target_table,
        schema=source.schema,
        schema_from=restored.schema_from,
        table_created=True,
        expected_items=source.expected_items,
        started_at=datetime.now(UTC).isoformat(),
        part_index=len(source.parts),
        items_restored=restored.items_restored,
        invocations=restored.invocations,
        phase=WRITE,
        verified_items=restored.items_restored,
        drill=True,
    )
    key = journal.save(progress, "proof")
    logger.info("drill restored: its proof goes to the next invocation", extra={"checkpoint": key})
    return journal.in_progress(progress, key)


def _discard(journal: RestoreJournal, restore_id: str) -> None:
    try:
        journal.discard_checkpoints(restore_id)
    except Exception:
        logger.warning("could not delete the drill's proof checkpoint", exc_info=True)


def _prove(
    dynamodb: "DynamoDBClient", source: Source, restored: RestoreResult, ledger_table: str, began: float
) -> DrillPassed:
    """Count and digest of the table against the backup's; then the table deleted."""
    table = restored.target_table
    check_drill_table(table, ledger_table)
    report, comparison = compare_with_table(dynamodb, source, table, source.schema)
    if not report.ok or comparison is None:
        raise CorruptBackup(report.failure())
    if not comparison.match:
        raise CorruptBackup(comparison.failure())
    expected = source.expected_items
    if expected is not None and not (restored.items_restored == comparison.table_items == expected):
        raise CorruptBackup(
            f"the manifest lists {expected} items, the restore wrote {restored.items_restored} and the "
            f"table holds {comparison.table_items}"
        )
    deleted = _delete(dynamodb, table)
    passed = DrillPassed(
        restore_id=restored.restore_id,
        backup=source.key,
        drill_table=table,
        items_restored=restored.items_restored,
        items_compared=comparison.table_items,
        digest=comparison.table_digest,
        seconds=round(restored.duration_seconds + time.monotonic() - began, 3),
        table_deleted=deleted,
    )
    logger.info("restore drill passed", extra=passed.to_json())
    return passed


def _delete(dynamodb: "DynamoDBClient", table: str) -> bool:
    """Delete the proven drill table: True once it is gone, False if it is still being deleted.

    A table that cannot be deleted fails the drill (it would be left behind, billed and in the way).
    """
    try:
        dynamodb.delete_table(TableName=table)
    except ClientError as exc:
        if error_code(exc) != "ResourceNotFoundException":
            raise
    try:
        dynamodb.get_waiter("table_not_exists").wait(TableName=table, WaiterConfig=_DELETE_WAITER)
    except WaiterError:
        logger.warning("the drill table is still being deleted", extra={"table": table})
        return False
    return True


def _forget(journal: RestoreJournal, table: str, restore_id: str) -> None:
    """A failed drill is not resumed: its claim and checkpoints go (its result, if any, stays)."""
    TargetClaims.beside(journal).release(table, restore_id)
    try:
        journal.discard_checkpoints(restore_id)
    except Exception:
        logger.warning("could not delete the failed drill's checkpoints", exc_info=True)


def _forget_table(journal: RestoreJournal, table: str) -> None:
    """`_forget` for a drill that failed before it could say its restore id: the drill table's claimant."""
    try:
        holder = TargetClaims.beside(journal).holder(table)
    except Exception:
        logger.warning("could not read the failed drill's claim", exc_info=True)
        return
    if holder is not None:
        _forget(journal, table, holder.restore_id)


def _failed(dynamodb: "DynamoDBClient", backup: str, table: str, problem: Exception) -> RestoreDrillFailed:
    """The error a failed drill raises, once the drill table (if any) is deleted."""
    try:
        exists = describe_table(dynamodb, table) is not None
    except Exception:  # DynamoDB itself failing: try the delete anyway, it says what became of the table
        exists = True
    became = delete_created_table(dynamodb, table) if exists else f"no drill table {table!r} is left"
    logger.error("restore drill failed", extra={"backup": backup, "table": table, "problem": str(problem)})
    return RestoreDrillFailed(f"restore drill of {backup} failed: {problem}; {became}")
