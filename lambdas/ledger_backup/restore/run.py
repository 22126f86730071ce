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
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from ledger_backup.aws.tables import describe_table
from ledger_backup.aws.write_json import TextBatchSender
from ledger_backup.errors import BackupNotFound, CorruptBackup, InvalidRequest, SchemaMismatch
from ledger_backup.rate_limit import limiter_for
from ledger_backup.restore.batch_write import BATCH_SIZE, ParallelBatchWriter
from ledger_backup.restore.journal import RestoreJournal, RestoreProgress, new_restore_id
from ledger_backup.restore.target import prepare_target
from ledger_backup.restore.verify import KeyChecker, VerifyReport, verify_source
from ledger_backup.schema import EXAMPLE, TableSchema
from ledger_backup.sources import Source, open_source
from ledger_backup.sources.base import ReadMeter
from ledger_backup.storage.stores import BackupStore

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

logger = logging.getLogger(__name__)


def _never() -> bool:
    return False


@dataclass(frozen=True)
class RestoreOptions:
    create_table: bool = True
    overwrite: bool = False
    writers: int = 4
    verify_first: bool = True  # read the whole backup once before writing; off only when it was just verified
    key_schema: TableSchema | None = None  # for sources that record none (scan documents, DynamoDB exports)
    max_items_per_second: float | None = None  # leave write capacity to the live pipeline; None = unlimited
    checkpoint_seconds: float = 60.0  # with a journal: how much work a crash may cost at most


@dataclass(frozen=True)
class RestoreResult:
    source: str
    kind: str
    target_table: str
    table_created: bool
    items_restored: int
    files: int
    compressed_bytes: int
    schema_from: str  # "backup", "request" or "target table": where the key schema came from
    duration_seconds: float
    restore_id: str = ""
    invocations: int = 1

    def to_json(self) -> dict[str, Any]:
        return {"status": "complete", **asdict(self)}

    @classmethod
    def from_json(cls, document: dict[str, Any]) -> "RestoreResult":
        return cls(**{k: v for k, v in document.items() if k != "status"})


@dataclass(frozen=True)
class RestoreInProgress:
    """This invocation paused; the next one continues from `checkpoint_key`."""

    restore_id: str
    checkpoint_key: str
    progress_location: str  # the restore's folder of checkpoints and, once done, result.json
    target_table: str
    items_restored: int
    expected_items: int | None
    invocations: int


def resolve_schema(
    dynamodb: "DynamoDBClient", source: Source, target_table: str, key_schema: TableSchema | None
) -> tuple[TableSchema | None, str]:
    """The key schema to restore with and where it came from; (None, why) when there is none."""
    if source.schema is not None:
        if key_schema is not None and key_schema.key_signature() != source.schema.key_signature():
            raise SchemaMismatch(
                f"key_schema {key_schema.describe_keys()} differs from the backup's own "
                f"{source.schema.describe_keys()}; leave key_schema out for this backup"
            )
        return source.schema, "backup"
    table = describe_table(dynamodb, target_table)
    if table is not None:
        existing = TableSchema.from_description(table, None)
        if key_schema is not None and key_schema.key_signature() != existing.key_signature():
            raise SchemaMismatch(
                f"target table {target_table!r} has key schema {existing.describe_keys()} "
                f"but key_schema says {key_schema.describe_keys()}"
            )
        return existing, "target table"
    if key_schema is not None:
        return key_schema, "request"
    return None, (
        f"{source.location} is a {source.kind} backup, which records no key schema, and target table "
        f"{target_table!r} does not exist: restore into an existing table, or give the key schema "
        f'(restore event: "key_schema": {EXAMPLE}; CLI: --hash-key book_id:S [--range-key NAME:TYPE])'
    )


def dry_run(
    dynamodb: "DynamoDBClient", source: Source, target_table: str, key_schema: TableSchema | None = None
) -> VerifyReport:
    """Everything a restore reads, nothing it writes: the source is verified, keys included when known.

    Unlike a restore, a missing key schema is not an error here, only a note: the items can
    still be checked for everything else.
    """
    schema, schema_from = resolve_schema(dynamodb, source, target_table, key_schema)
    report = verify_source(source, schema)
    if schema is None:
        return replace(report, notes=(*report.notes, f"keys were not checked: {schema_from}"))
    return report


def run_restore(
    dynamodb: "DynamoDBClient",
    store: BackupStore,
    backup_key: str,
    target_table: str,
    *,
    options: RestoreOptions | None = None,
) -> RestoreResult:
    """Restore the backup that `backup_key` names, of whichever kind, into `target_table`."""
    return restore_source(dynamodb, open_source(store, backup_key), target_table, options=options)


def restore_source(
    dynamodb: "DynamoDBClient",
    source: Source,
    target_table: str,
    *,
    options: RestoreOptions | None = None,
) -> RestoreResult:
    """Verify `source` (unless told it just was), then write all its items into `target_table`."""
    outcome = start_restore(dynamodb, source, target_table, options=options)
    if not isinstance(outcome, RestoreResult):  # pragma: no cover - only should_pause() can pause
        raise TypeError("a restore without a pause condition paused")
    return outcome


def start_restore(
    dynamodb: "DynamoDBClient",
    source: Source,
    target_table: str,
    *,
    options: RestoreOptions | None = None,
    journal: RestoreJournal | None = None,
    should_pause: Callable[[], bool] = _never,
    invocation_id: str | None = None,
) -> "RestoreResult | RestoreInProgress":
    """Check everything, prepare the target, then write until done or until `should_pause()`.

    With a journal, progress is checkpointed every `checkpoint_seconds` and at a pause, so a
    later invocation (`resume_restore`) carries on where this one stopped, even after a crash.
    """
    options = options or RestoreOptions()
    schema, schema_from = resolve_schema(dynamodb, source, target_table, options.key_schema)
    if schema is None:
        raise InvalidRequest(schema_from)
    expected = source.expected_items
    if options.verify_first:
        report = verify_source(source, schema)
        if not report.ok:
            raise CorruptBackup(report.failure())
        expected = report.item_count
    created = prepare_target(dynamodb, target_table, schema, options.create_table, options.overwrite)
    progress = RestoreProgress(
        restore_id=new_restore_id(),
        source_key=source.key,
        source_location=source.location,
        target_table=target_table,
        schema=schema,
        schema_from=schema_from,
        table_created=created,
        expected_items=expected,
        started_at=datetime.now(UTC).isoformat(),
    )
    logger.info(
        "restore started",
        extra={
            "restore_id": progress.restore_id,
            "source": source.location,
            "kind": str(source.kind),
            "target": target_table,
            "items": expected,
            "table_created": created,
            "schema_from": schema_from,
        },
    )
    return _write(dynamodb, source, progress, options, journal, should_pause, invocation_id)


def resume_restore(
    dynamodb: "DynamoDBClient",
    journal: RestoreJournal,
    checkpoint_key: str,
    *,
    options: RestoreOptions | None = None,
    should_pause: Callable[[], bool] = _never,
    invocation_id: str | None = None,
) -> "RestoreResult | RestoreInProgress":
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
    source = open_source(journal.store, progress.source_key)
    logger.info(
        "restore resumed",
        extra={
            "restore_id": progress.restore_id,
            "items": progress.items_restored,
            "target": progress.target_table,
        },
    )
    return _write(
        dynamodb, source, progress, options or RestoreOptions(), journal, should_pause, invocation_id
    )


def _write(  # noqa: PLR0917 - private; the public functions above name every argument
    dynamodb: "DynamoDBClient",
    source: Source,
    progress: RestoreProgress,
    options: RestoreOptions,
    journal: RestoreJournal | None,
    should_pause: Callable[[], bool],
    invocation_id: str | None,
) -> "RestoreResult | RestoreInProgress":
    """Write the source's items from `progress`'s position on; checkpoint, pause or finish."""
    started = time.monotonic()
    invocation_id = invocation_id or uuid.uuid4().hex[:12]
    progress = replace(progress, invocations=progress.invocations + 1)
    target_table = progress.target_table
    meter = ReadMeter()
    checker = KeyChecker(progress.schema)
    writer = ParallelBatchWriter(
        TextBatchSender(dynamodb).send,
        target_table,
        progress.schema.key_names,
        threads=options.writers,
        limiter=limiter_for(options.max_items_per_second),
    )
    restored = initially_restored = progress.items_restored
    last_checkpoint = time.monotonic()
    try:
        with writer:
            for part_index in range(progress.part_index, len(source.parts)):
                part = source.parts[part_index]
                skip = progress.item_offset if part_index == progress.part_index else 0
                for offset, (item, stored_line) in enumerate(part.entries(meter)):
                    if offset < skip:
                        continue
                    checker.check(item, f"{part.location}, item {offset + 1}")
                    writer.put(item, stored_line)
                    restored += 1
                    if journal is None or restored % BATCH_SIZE:
                        continue
                    pause = should_pause()
                    if pause or time.monotonic() - last_checkpoint >= options.checkpoint_seconds:
                        writer.flush()  # every item before this position is now in the table
                        progress = progress.advanced(part_index, offset + 1, restored)
                        key = journal.save(progress, invocation_id)
                        last_checkpoint = time.monotonic()
                        if pause:
                            return _paused(progress, key, journal)
    except CorruptBackup as exc:  # only when the backup changed after it was verified (or was not verified)
        raise CorruptBackup(
            f"{exc}; {restored - initially_restored} items were already written to {target_table!r}: "
            "restore a whole backup over them with overwrite"
        ) from exc
    if progress.expected_items is not None and restored != progress.expected_items:
        raise CorruptBackup(
            f"wrote {restored} items but {source.location} holds {progress.expected_items}: "
            "the backup changed while it was being restored"
        )
    result = RestoreResult(
        source=source.location,
        kind=str(source.kind),
        target_table=target_table,
        table_created=progress.table_created,
        items_restored=restored,
        files=len(source.parts),
        compressed_bytes=meter.object_bytes,
        schema_from=progress.schema_from,
        duration_seconds=round(time.monotonic() - started, 3),
        restore_id=progress.restore_id,
        invocations=progress.invocations,
    )
    if journal is not None:
        result = RestoreResult.from_json(journal.finish(progress.restore_id, result.to_json()))
        try:
            journal.discard_checkpoints(progress.restore_id)
        except Exception:
            logger.warning("could not delete the restore's checkpoints", exc_info=True)
    logger.info("restore complete", extra={"target": target_table, "items": result.items_restored})
    return result


def _paused(progress: RestoreProgress, checkpoint_key: str, journal: RestoreJournal) -> "RestoreInProgress":
    logger.info(
        "restore paused",
        extra={
            "restore_id": progress.restore_id,
            "items": progress.items_restored,
            "checkpoint": checkpoint_key,
        },
    )
    return RestoreInProgress(
        restore_id=progress.restore_id,
        checkpoint_key=checkpoint_key,
        progress_location=journal.store.location(journal.restore_folder(progress.restore_id)),
        target_table=progress.target_table,
        items_restored=progress.items_restored,
        expected_items=progress.expected_items,
        invocations=progress.invocations,
    )
