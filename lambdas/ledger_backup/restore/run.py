"""Restore a backup of any kind into a table, new or existing, losing nothing.

Order of work: open the source (its manifests are cross-checked), settle the key schema,
read every part through to verify checksums, counts, JSON and keys (nothing is written from
a source that fails), prepare the target, then stream the items into it with parallel
BatchWriteItem. Puts are idempotent, so a restore run twice gives the same table. A stored
`{"Item": ...}` line is sent as the PutRequest it is; only other formats' items are encoded.

Only this tool's backups record the table's schema. For a scan document or a DynamoDB
export the schema comes from the existing target table, or from a key schema the caller
gives, in that order of preference when both are there: the caller's must then match.
"""

import logging
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from ledger_backup.aws.tables import describe_table
from ledger_backup.contract import DEFAULT_RESTORE_WRITERS
from ledger_backup.errors import BackupNotFound, CorruptBackup, InvalidRequest, SchemaMismatch
from ledger_backup.restore.claim import claimed, take_over_target
from ledger_backup.restore.journal import (
    RestoreInProgress,
    RestoreJournal,
    RestoreProgress,
    RestoreResult,
    new_restore_id,
)
from ledger_backup.restore.target import prepare_target
from ledger_backup.restore.verify import DryRunReport, verify_source
from ledger_backup.restore.writer import RestoreWriter, never
from ledger_backup.schema import EXAMPLE, TableSchema
from ledger_backup.sources import Source, open_source
from ledger_backup.storage.stores import BackupStore

if TYPE_CHECKING:
    from collections.abc import Callable

    from mypy_boto3_dynamodb import DynamoDBClient

__all__ = [
    "DryRunReport",
    "ResolvedSchema",
    "RestoreInProgress",
    "RestoreOptions",
    "RestoreResult",
    "dry_run",
    "resolve_schema",
    "resume_restore",
    "run_restore",
    "start_restore",
]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RestoreOptions:
    create_table: bool = True
    overwrite: bool = False
    writers: int = DEFAULT_RESTORE_WRITERS
    key_schema: TableSchema | None = None  # for sources that record none (scan documents, DynamoDB exports)
    max_items_per_second: float | None = None  # leave write capacity to the live pipeline; None = unlimited
    checkpoint_seconds: float = 60.0  # with a journal: how much work a crash may cost at most


@dataclass(frozen=True)
class ResolvedSchema:
    """The key schema a restore writes with, and where it came from: "backup", "target table" or "request"."""

    schema: TableSchema
    origin: str


def resolve_schema(
    dynamodb: "DynamoDBClient", source: Source, target_table: str, key_schema: TableSchema | None
) -> ResolvedSchema:
    """The key schema to restore with: the backup's, else the existing target's, else the caller's.

    Raises SchemaMismatch when the caller's disagrees with the backup's or the target's, and
    InvalidRequest, saying what to give, when there is none at all.
    """
    if source.schema is not None:
        if key_schema is not None and key_schema.key_signature() != source.schema.key_signature():
            raise SchemaMismatch(
                f"key_schema {key_schema.describe_keys()} differs from the backup's own "
                f"{source.schema.describe_keys()}; leave key_schema out for this backup"
            )
        return ResolvedSchema(source.schema, "backup")
    table = describe_table(dynamodb, target_table)
    if table is not None:
        existing = TableSchema.from_description(table, None)
        if key_schema is not None and key_schema.key_signature() != existing.key_signature():
            raise SchemaMismatch(
                f"target table {target_table!r} has key schema {existing.describe_keys()} "
                f"but key_schema says {key_schema.describe_keys()}"
            )
        return ResolvedSchema(existing, "target table")
    if key_schema is not None:
        return ResolvedSchema(key_schema, "request")
    raise InvalidRequest(
        f"{source.location} is a {source.kind} backup, which records no key schema, and target table "
        f"{target_table!r} does not exist: restore into an existing table, or give the key schema "
        f'(restore event: "key_schema": {EXAMPLE}; CLI: --hash-key book_id:S [--range-key NAME:TYPE])'
    )


def dry_run(
    dynamodb: "DynamoDBClient", source: Source, target_table: str, key_schema: TableSchema | None = None
) -> DryRunReport:
    """Everything a restore reads, nothing it writes: the source is verified, keys included when known.

    Unlike a restore, a missing key schema is not an error here, only a note: the items can
    still be checked for everything else.
    """
    try:
        resolved = resolve_schema(dynamodb, source, target_table, key_schema)
    except InvalidRequest as missing:  # SchemaMismatch is not one: a wrong key schema still fails
        report = verify_source(source, None)
        return DryRunReport(replace(report, notes=(*report.notes, f"keys were not checked: {missing}")))
    return DryRunReport(verify_source(source, checked_schema(dynamodb, target_table, resolved)))


def checked_schema(dynamodb: "DynamoDBClient", target_table: str, resolved: ResolvedSchema) -> TableSchema:
    """The schema every item must fit: an existing target's own (its indexes may differ), else resolved's.

    An existing table's GSI and LSI key attributes are typed by that table, not by the backup:
    an item whose value has another type would be refused mid-restore ("Type mismatch for
    Index Key"), so the verify pass checks the items against the target's indexes.
    """
    if resolved.origin == "target table":
        return resolved.schema
    table = describe_table(dynamodb, target_table)
    if table is None:
        return resolved.schema
    target = TableSchema.from_description(table, None)
    resolved.schema.check_compatible(target_table, target)  # other keys: a schema mismatch, not bad items
    return target


def run_restore(
    dynamodb: "DynamoDBClient",
    store: BackupStore,
    backup_key: str,
    target_table: str,
    *,
    options: RestoreOptions | None = None,
) -> RestoreResult:
    """Restore the backup that `backup_key` names, of whichever kind, into `target_table`, in one go."""
    outcome = start_restore(dynamodb, open_source(store, backup_key), target_table, options=options)
    if isinstance(outcome, RestoreInProgress):  # pragma: no cover - only should_pause() can pause
        raise TypeError("a restore without a pause condition paused")
    return outcome


def start_restore(
    dynamodb: "DynamoDBClient",
    source: Source,
    target_table: str,
    *,
    options: RestoreOptions | None = None,
    journal: RestoreJournal | None = None,
    should_pause: "Callable[[], bool]" = never,
    invocation_id: str | None = None,
) -> RestoreResult | RestoreInProgress:
    """Check everything, prepare the target, then write until done or until `should_pause()`.

    With a journal, progress is checkpointed every `checkpoint_seconds` and at a pause, so a
    later invocation (`resume_restore`) carries on where this one stopped, even after a crash.
    """
    options = options or RestoreOptions()
    resolved = resolve_schema(dynamodb, source, target_table, options.key_schema)
    restore_id = new_restore_id()
    with claimed(journal, target_table, restore_id, source.location):  # one restore per target
        report = verify_source(source, checked_schema(dynamodb, target_table, resolved))
        if not report.ok:
            raise CorruptBackup(report.failure())
        created = prepare_target(
            dynamodb, target_table, resolved.schema, options.create_table, options.overwrite
        )
    progress = RestoreProgress(
        restore_id=restore_id,
        source_key=source.key,
        source_location=source.location,
        target_table=target_table,
        schema=resolved.schema,
        schema_from=resolved.origin,
        table_created=created,
        expected_items=report.item_count,
        started_at=datetime.now(UTC).isoformat(),
    )
    logger.info(
        "restore started",
        extra={
            "restore_id": progress.restore_id,
            "source": source.location,
            "kind": str(source.kind),
            "target": target_table,
            "items": report.item_count,
            "table_created": created,
            "schema_from": resolved.origin,
        },
    )
    writer = _writer(
        dynamodb,
        source,
        progress,
        options=options,
        journal=journal,
        should_pause=should_pause,
        invocation_id=invocation_id,
    )
    return writer.run()


def resume_restore(
    dynamodb: "DynamoDBClient",
    journal: RestoreJournal,
    checkpoint_key: str,
    *,
    options: RestoreOptions | None = None,
    should_pause: "Callable[[], bool]" = never,
    invocation_id: str | None = None,
) -> RestoreResult | RestoreInProgress:
    """Carry on from a checkpoint; a restore that a replayed twin already finished returns its result."""
    restore_id = checkpoint_key.removeprefix(journal.folder).partition("/")[0]
    try:
        progress = journal.load(checkpoint_key)
    except BackupNotFound:
        recorded = journal.result(restore_id)
        if recorded is None:
            raise
        logger.warning(
            "this restore was already completed by another invocation", extra={"restore_id": restore_id}
        )
        return RestoreResult.from_json(recorded)
    finished = take_over_target(journal, progress)  # its claim on the target, or a twin's result
    if finished is not None:
        return finished
    source = open_source(journal.store, progress.source_key)
    logger.info(
        "restore resumed",
        extra={
            "restore_id": progress.restore_id,
            "items": progress.items_restored,
            "target": progress.target_table,
        },
    )
    writer = _writer(
        dynamodb,
        source,
        progress,
        options=options,
        journal=journal,
        should_pause=should_pause,
        invocation_id=invocation_id,
    )
    return writer.run()


def _writer(
    dynamodb: "DynamoDBClient",
    source: Source,
    progress: RestoreProgress,
    *,
    options: RestoreOptions | None,
    journal: RestoreJournal | None,
    should_pause: "Callable[[], bool]",
    invocation_id: str | None,
) -> RestoreWriter:
    options = options or RestoreOptions()
    return RestoreWriter(
        dynamodb,
        source,
        progress,
        writers=options.writers,
        max_items_per_second=options.max_items_per_second,
        checkpoint_seconds=options.checkpoint_seconds,
        journal=journal,
        should_pause=should_pause,
        invocation_id=invocation_id,
    )
