"""Restore a backup of any kind into a table, new or existing, losing nothing.

Order of work: open the source (its manifests are cross-checked), settle the key schema,
claim the target, make the cheap checks of the target (exists, keys, empty), then:

- into an existing table: read every part through to verify checksums, counts, JSON, every
  item against DynamoDB's rules and the table's keys and indexes (nothing is written from a
  source that fails; with a journal this pass may take several invocations), prepare the
  target again, then write;
- into a table it creates: check and write in one pass (see writer.py); a bad input deletes
  that table again, so either way a restore refused for its input leaves the target as found.

Items go in with parallel BatchWriteItem. Puts are idempotent, so a restore run twice gives the
same table. A stored `{"Item": ...}` line is sent as the PutRequest it is; only other formats'
items are encoded.

Only this tool's backups record the table's schema. For a scan document or a DynamoDB
export the schema comes from the existing target table, or from a key schema the caller
gives, in that order of preference when both are there: the caller's must then match.
"""

import logging
import uuid
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, cast

from ledger_backup.aws.tables import describe_table
from ledger_backup.contract import DEFAULT_RESTORE_WRITERS
from ledger_backup.errors import BackupNotFound, CorruptBackup, InvalidRequest, SchemaMismatch, TargetBusy
from ledger_backup.reporting import ProgressListener
from ledger_backup.restore.claim import TargetClaims, claimed, take_over_target
from ledger_backup.restore.extra_keys import TableKeyScan
from ledger_backup.restore.import_table import start_import, wait_for_import
from ledger_backup.restore.journal import (
    CHECK_AND_WRITE,
    IMPORT,
    VERIFY,
    WRITE,
    RestoreInProgress,
    RestoreJournal,
    RestoreProgress,
    RestoreResult,
    new_restore_id,
)
from ledger_backup.restore.keyset import KeyDigests
from ledger_backup.restore.modes import REPLACE, check_mode, writes_over_items
from ledger_backup.restore.plan import Plan, ReportSink, make_plan
from ledger_backup.restore.selection import KeySelection, selection_from_keys, selection_from_lines
from ledger_backup.restore.target import check_target, prepare_target
from ledger_backup.restore.verify import DryRunReport, VerifyPass, VerifyPaused, never, verify_source
from ledger_backup.restore.writer import RestoreWriter
from ledger_backup.schema import EXAMPLE, TableSchema
from ledger_backup.sources import Source, open_source
from ledger_backup.sources.chain import open_source_chain
from ledger_backup.storage.stores import BackupStore, S3Store

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from mypy_boto3_dynamodb import DynamoDBClient

    from ledger_backup.codec import Item

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
    mode: str = ""  # restore/modes.py: "", "upsert", "missing" or "replace"
    keys: "Sequence[Any] | None" = None  # key objects in DynamoDB JSON: restore only these
    keys_file: "KeysFile | None" = None  # or a JSON-lines file of them (a plan's report is one)
    drill: bool = False  # a restore drill: the target must be a table this restore creates (restore/drill.py)


@dataclass(frozen=True)
class KeysFile:
    """A keys file's content and where it came from (for messages)."""

    where: str
    content: bytes


MAX_KEYS_FILE_BYTES = 256 * 1024 * 1024  # a keys file is read whole: about 4 million keys of the ledger's


def read_keys_file(store: BackupStore, key: str) -> KeysFile:
    """A keys file of `store`, read whole (up to MAX_KEYS_FILE_BYTES); BackupNotFound when it is not there."""
    with store.open_read(key) as stream:
        content = stream.read(MAX_KEYS_FILE_BYTES + 1)
    if len(content) > MAX_KEYS_FILE_BYTES:
        raise InvalidRequest(
            f"{store.location(key)} is over {MAX_KEYS_FILE_BYTES // 2**20} MiB; "
            "split the keys into several restores"
        )
    return KeysFile(store.location(key), content)


def key_selection(options: RestoreOptions, schema: TableSchema) -> KeySelection | None:
    """The chosen keys of a request, checked against the key schema (InvalidRequest naming a bad one)."""
    if options.keys is not None and options.keys_file is not None:
        raise InvalidRequest("give keys or keys_s3_key, not both")
    if options.keys is not None:
        return selection_from_keys(options.keys, schema)
    if options.keys_file is not None:
        return selection_from_lines(options.keys_file.content.splitlines(), schema, options.keys_file.where)
    return None


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
    dynamodb: "DynamoDBClient",
    source: Source,
    target_table: str,
    key_schema: TableSchema | None = None,
    *,
    options: RestoreOptions | None = None,
    report: ReportSink | None = None,
    on_progress: ProgressListener | None = None,
) -> DryRunReport:
    """Everything a restore reads, nothing it writes: the source is verified, keys included when known.

    Against an existing target it is also a plan (restore/plan.py): `changes` counts the backup's
    keys (or the chosen keys of `options`) missing from the table, changed, the same, and the
    table's extra keys; the JSON-lines report of each goes to `report`. Unlike a restore, a
    missing key schema is not an error here, only a note: the items can still be checked for
    everything else. `on_progress` hears of the backup's items as they are checked.
    """
    try:
        resolved = resolve_schema(dynamodb, source, target_table, key_schema)
    except InvalidRequest as missing:  # SchemaMismatch is not one: a wrong key schema still fails
        verified = verify_source(source, None, on_progress=on_progress)
        return DryRunReport(replace(verified, notes=(*verified.notes, f"keys were not checked: {missing}")))
    schema = checked_schema(dynamodb, target_table, resolved)
    selection = key_selection(options or RestoreOptions(), resolved.schema)
    if describe_table(dynamodb, target_table) is None:
        return DryRunReport(verify_source(source, schema, on_progress=on_progress))
    if report is None:
        plan = make_plan(dynamodb, source, target_table, schema, selection=selection, on_progress=on_progress)
        return _plan_report(plan, selection, None)
    with report.open() as file:
        plan = make_plan(
            dynamodb,
            source,
            target_table,
            schema,
            selection=selection,
            report=file,
            on_progress=on_progress,
        )
        if plan.changes is None:  # the backup failed its check: no report
            file.discard()
            return _plan_report(plan, selection, None)
    return _plan_report(plan, selection, report.location)


def _plan_report(plan: Plan, selection: KeySelection | None, report_location: str | None) -> DryRunReport:
    if plan.changes is None:
        return DryRunReport(plan.verify)
    return DryRunReport(
        plan.verify,
        changes=plan.changes.to_json(),
        keys_not_in_backup=plan.keys_not_in_backup if selection is not None else None,
        report_key=report_location,
    )


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


def _new_progress(source: Source, target_table: str, resolved: "ResolvedSchema") -> RestoreProgress:
    """A new restore's progress at its verify pass's start, the request's own fields at their defaults."""
    return RestoreProgress(
        restore_id=new_restore_id(),
        source_key=source.key,
        source_location=source.location,
        target_table=target_table,
        schema=resolved.schema,
        schema_from=resolved.origin,
        table_created=False,
        expected_items=source.expected_items,
        started_at=datetime.now(UTC).isoformat(),
        phase=VERIFY,
    )


def start_restore(
    dynamodb: "DynamoDBClient",
    source: Source,
    target_table: str,
    *,
    options: RestoreOptions | None = None,
    journal: RestoreJournal | None = None,
    should_pause: "Callable[[], bool]" = never,
    invocation_id: str | None = None,
    on_progress: ProgressListener | None = None,
) -> RestoreResult | RestoreInProgress:
    """Check the target, then verify and write (existing target) or check-and-write (created target).

    With a journal, progress is checkpointed at the start, every `checkpoint_seconds` and at a
    pause, so a later invocation (`resume_restore`) carries on where this one stopped, even
    after a crash. `on_progress` hears of each pass (verifying, writing) and its items.
    """
    options = options or RestoreOptions()
    mode = check_mode(options.mode)
    resolved = resolve_schema(dynamodb, source, target_table, options.key_schema)
    _check_chain_keys(source, resolved)
    selection = key_selection(options, resolved.schema)
    invocation_id = invocation_id or uuid.uuid4().hex[:12]
    overwrite = writes_over_items(mode, options.overwrite)
    progress = replace(
        _new_progress(source, target_table, resolved),
        create_table=options.create_table,
        overwrite=overwrite,
        mode=mode,
        drill=options.drill,
        incrementals=source.incrementals,
        until=source.until,
    )
    with claimed(journal, target_table, progress.restore_id, source.location):  # one restore per target
        schema, create = resolved.schema, options.create_table
        exists = check_target(dynamodb, target_table, schema, create, overwrite)
        if not exists:
            created = prepare_target(dynamodb, target_table, schema, create, overwrite)
            if created:  # else someone's table (a retried CreateTable): verified first, like any
                progress = replace(progress, phase=CHECK_AND_WRITE, table_created=True)
        if options.drill and not progress.table_created:  # a drill deletes its table: never someone's
            raise TargetBusy(
                f"drill table {target_table!r} was not created by this drill; nothing was written to it: "
                "a drill restores only into a table of its own, so run the drill again"
            )
        if journal is not None:  # from here on a restore that dies can be resumed
            if selection is not None:
                lines = "".join(f"{text}\n" for text, _ in selection.key_texts()).encode(
                    "utf-8", "surrogatepass"
                )
                progress = replace(progress, selection_key=journal.save_selection(progress.restore_id, lines))
            journal.save(progress, invocation_id)
    _log_start(progress, source)
    if progress.phase == VERIFY:
        return _verify_then_write(
            dynamodb,
            source,
            progress,
            options=options,
            journal=journal,
            should_pause=should_pause,
            invocation_id=invocation_id,
            selection=selection,
            on_progress=on_progress,
        )
    return _writer(
        dynamodb,
        source,
        progress,
        options=options,
        journal=journal,
        should_pause=should_pause,
        invocation_id=invocation_id,
        selection=selection,
        on_progress=on_progress,
    ).run()


def start_import_restore(
    dynamodb: "DynamoDBClient",
    store: S3Store,
    source: Source,
    target_table: str,
    *,
    options: RestoreOptions,
    journal: RestoreJournal,
    should_pause: "Callable[[], bool]" = never,
    invocation_id: str | None = None,
) -> RestoreResult | RestoreInProgress:
    """Method "import": verify the whole backup, then DynamoDB's ImportTable creates and fills the new table.

    See restore/import_table.py. Only a whole backup into a table it creates: a mode, chosen keys or
    create_table false are refused here, before anything is read.
    """
    if options.mode or options.keys is not None or options.keys_file is not None:
        raise InvalidRequest(
            'method "import" restores a whole backup into a new table: leave out mode and keys, or "method"'
        )
    if not options.create_table:
        raise InvalidRequest('method "import" creates its table, so create_table cannot be false')
    resolved = resolve_schema(dynamodb, source, target_table, options.key_schema)
    progress = _new_progress(source, target_table, resolved)
    _log_start(progress, source)
    return start_import(
        dynamodb,
        store,
        source,
        progress,
        journal=journal,
        invocation_id=invocation_id or uuid.uuid4().hex[:12],
        should_pause=should_pause,
    )


def _check_chain_keys(source: Source, resolved: ResolvedSchema) -> None:
    """A chain's changes are matched to the full export's items by the keys its records name: those must
    be the table's keys, or a change would not replace the item it changes."""
    if source.key_names and set(source.key_names) != set(resolved.schema.key_names):
        raise SchemaMismatch(
            f"the incremental exports' records are keyed by {', '.join(source.key_names)} but the "
            f"{resolved.origin}'s key schema is {resolved.schema.describe_keys()}: "
            "give the key schema of the table the exports were taken from"
        )


def _log_start(progress: RestoreProgress, source: Source) -> None:
    logger.info(
        "restore started",
        extra={
            "restore_id": progress.restore_id,
            "source": source.location,
            "kind": str(source.kind),
            "target": progress.target_table,
            "phase": progress.phase,
            "table_created": progress.table_created,
            "schema_from": progress.schema_from,
        },
    )


def _verify_then_write(
    dynamodb: "DynamoDBClient",
    source: Source,
    progress: RestoreProgress,
    *,
    options: RestoreOptions,
    journal: RestoreJournal | None,
    should_pause: "Callable[[], bool]",
    invocation_id: str,
    selection: KeySelection | None,
    on_progress: ProgressListener | None = None,
) -> RestoreResult | RestoreInProgress:
    """The verify pass from the progress's position, then (in the same invocation if time is left) the writes.

    A pause checkpoints the verify position, its count and the key digests seen; a backup that
    fails gives the claim back and is refused with nothing written.
    """
    target_table = progress.target_table
    key_scan = _early_key_scan(dynamodb, progress, selection)
    try:
        schema = checked_schema(dynamodb, target_table, ResolvedSchema(progress.schema, progress.schema_from))
        keys = KeyDigests(progress.schema, journaled=journal is not None)
        for chunk in journal.key_digests(progress) if journal is not None else ():
            keys.load(chunk)
        verify = VerifyPass(source, schema, keys=keys, on_progress=on_progress)
        outcome = verify.run(
            progress.part_index,
            progress.item_offset,
            progress.verified_items,
            should_pause if journal is not None else never,
        )
        # What the items checked before this invocation proved, and what this one's did.
        lines_are_requests = (progress.lines_are_requests or progress.verified_items == 0) and (
            verify.lines_are_requests
        )
        if isinstance(outcome, VerifyPaused):  # only with a journal: never() does not pause
            progress = replace(progress, lines_are_requests=lines_are_requests)
            return _verify_paused(cast("RestoreJournal", journal), progress, outcome, keys, invocation_id)
        if not outcome.ok:
            raise CorruptBackup(outcome.failure())
        created = prepare_target(
            dynamodb, target_table, progress.schema, progress.create_table, progress.overwrite
        )
        extra_keys = key_scan.extra_keys(keys) if key_scan is not None else None
    except CorruptBackup:
        if journal is not None:
            _give_up(journal, progress)
        raise
    finally:
        if key_scan is not None:
            key_scan.close()
    progress = replace(
        progress,
        phase=WRITE,
        table_created=created,
        expected_items=outcome.item_count,
        verified_items=outcome.item_count,
        duplicate_keys=keys.duplicates,
        part_index=0,
        item_offset=0,
        key_digests=(),
        lines_are_requests=lines_are_requests,
    )
    if journal is not None and extra_keys is not None:
        progress = replace(progress, extra_keys_key=journal.save_extra_keys(progress.restore_id, extra_keys))
    if journal is not None:
        journal.save(progress, invocation_id)
    logger.info("backup verified", extra={"restore_id": progress.restore_id, "items": outcome.item_count})
    return _writer(
        dynamodb,
        source,
        progress,
        options=options,
        journal=journal,
        should_pause=should_pause,
        invocation_id=invocation_id,
        selection=selection,
        on_progress=on_progress,
        extra_keys=extra_keys,
    ).run()


def _early_key_scan(
    dynamodb: "DynamoDBClient", progress: RestoreProgress, selection: KeySelection | None
) -> TableKeyScan | None:
    """Replace over an existing table, whole backup, verify pass from its start: read the table's keys
    while the backup is verified (restore/extra_keys.py). A verify pass resumed in a later invocation,
    or chosen keys, take the way after the puts (RestoreWriter)."""
    if progress.mode != REPLACE or selection is not None or progress.verified_items != 0:
        return None
    if describe_table(dynamodb, progress.target_table) is None:
        return None  # created by this restore: it holds nothing to delete
    return TableKeyScan(dynamodb, progress.target_table, progress.schema)


def _verify_paused(
    journal: RestoreJournal,
    progress: RestoreProgress,
    paused: VerifyPaused,
    keys: KeyDigests,
    invocation_id: str,
) -> RestoreInProgress:
    """Record how far the verify pass got and what it proved, so the next invocation goes on from there."""
    progress = replace(
        progress,
        part_index=paused.part_index,
        item_offset=paused.item_offset,
        verified_items=paused.items,
        duplicate_keys=keys.duplicates,
        invocations=progress.invocations + 1,
    )
    fresh = keys.take_fresh()
    if fresh:
        name = journal.save_key_digests(progress, invocation_id, fresh)
        progress = replace(progress, key_digests=(*progress.key_digests, name))
    key = journal.save(progress, invocation_id)
    logger.info(
        "restore paused while verifying",
        extra={"restore_id": progress.restore_id, "items_verified": paused.items, "checkpoint": key},
    )
    return journal.in_progress(progress, key)


def _give_up(journal: RestoreJournal, progress: RestoreProgress) -> None:
    """A restore refused before its first write: nothing to resume, and the target is free again."""
    TargetClaims.beside(journal).release(progress.target_table, progress.restore_id)
    try:
        journal.discard_checkpoints(progress.restore_id)
    except Exception:
        logger.warning("could not delete the refused restore's checkpoints", exc_info=True)


def resume_restore(
    dynamodb: "DynamoDBClient",
    journal: RestoreJournal,
    checkpoint_key: str,
    *,
    options: RestoreOptions | None = None,
    should_pause: "Callable[[], bool]" = never,
    invocation_id: str | None = None,
    on_progress: ProgressListener | None = None,
) -> RestoreResult | RestoreInProgress:
    """Carry on from a checkpoint, in either phase; a restore a replayed twin finished returns its result.

    `on_progress` hears of the pass's items from the checkpoint's count on.
    """
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
    if progress.phase == IMPORT:  # DynamoDB writes the table: only its ImportTable job to wait for
        return wait_for_import(
            dynamodb,
            progress,
            journal=journal,
            invocation_id=invocation_id or uuid.uuid4().hex[:12],
            should_pause=should_pause,
        )
    source = open_source_chain(journal.store, progress.source_key, progress.incrementals, progress.until)
    logger.info(
        "restore resumed",
        extra={
            "restore_id": progress.restore_id,
            "phase": progress.phase,
            "items": progress.items_restored,
            "items_verified": progress.verified_items,
            "target": progress.target_table,
        },
    )
    options = options or RestoreOptions()
    invocation_id = invocation_id or uuid.uuid4().hex[:12]
    selection = _journaled_selection(journal, progress)
    if progress.phase == VERIFY:
        return _verify_then_write(
            dynamodb,
            source,
            progress,
            options=options,
            journal=journal,
            should_pause=should_pause,
            invocation_id=invocation_id,
            selection=selection,
            on_progress=on_progress,
        )
    return _writer(
        dynamodb,
        source,
        progress,
        options=options,
        journal=journal,
        should_pause=should_pause,
        invocation_id=invocation_id,
        selection=selection,
        on_progress=on_progress,
    ).run()


def _journaled_selection(journal: RestoreJournal, progress: RestoreProgress) -> KeySelection | None:
    """The chosen keys a restore started with, from its own folder of the journal."""
    if not progress.selection_key:
        return None
    key = journal.restore_folder(progress.restore_id) + "selection.jsonl"
    if progress.selection_key != key:
        raise CorruptBackup(
            f"checkpoint of restore {progress.restore_id} names a selection outside its folder"
        )
    return selection_from_lines(
        journal.store.get(key).splitlines(), progress.schema, journal.store.location(key)
    )


def _writer(
    dynamodb: "DynamoDBClient",
    source: Source,
    progress: RestoreProgress,
    *,
    options: RestoreOptions,
    journal: RestoreJournal | None,
    should_pause: "Callable[[], bool]",
    invocation_id: str,
    selection: KeySelection | None,
    on_progress: ProgressListener | None = None,
    extra_keys: "Sequence[Item] | None" = None,
) -> RestoreWriter:
    """The writer for the restore's write pass; a replace's extra keys from the journal when kept there."""
    if extra_keys is None and journal is not None and progress.extra_keys_key:
        extra_keys = journal.extra_keys(progress)
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
        selection=selection,
        on_progress=on_progress,
        extra_keys=extra_keys,
    )
