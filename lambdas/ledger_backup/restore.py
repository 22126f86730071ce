"""Restore a backup of any kind into a table, new or existing, losing nothing.

Order of work: open the source (its manifests are cross-checked), settle the key schema,
read every part through to verify checksums, counts, JSON and keys (nothing is written from
a source that fails), prepare the target, then stream the items into it with parallel
BatchWriteItem. Puts are idempotent, so a restore run twice gives the same table.

Only this tool's backups record the table's schema. For a scan document or a DynamoDB
export the schema comes from the existing target table, or from a key schema the caller
gives, in that order of preference when both are there: the caller's must then match.
"""

import logging
import time
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from ledger_backup.batch_write import ParallelBatchWriter
from ledger_backup.errors import CorruptBackup, InvalidRequest, SchemaMismatch
from ledger_backup.schema import TableSchema
from ledger_backup.sources import Source, open_source
from ledger_backup.sources.base import ReadMeter
from ledger_backup.sources.key_schema import EXAMPLE
from ledger_backup.stores import BackupStore
from ledger_backup.table_info import describe_table
from ledger_backup.target import prepare_target
from ledger_backup.verify import KeyChecker, VerifyReport, verify_source

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RestoreOptions:
    create_table: bool = True
    overwrite: bool = False
    writers: int = 4
    verify_first: bool = True  # read the whole backup once before writing; off only when it was just verified
    key_schema: TableSchema | None = None  # for sources that record none (scan documents, DynamoDB exports)


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
    """Verify `source` (unless told it just was), then write its items into `target_table`."""
    options = options or RestoreOptions()
    started = time.monotonic()
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
    logger.info(
        "restore started",
        extra={
            "source": source.location,
            "kind": str(source.kind),
            "target": target_table,
            "items": expected,
            "table_created": created,
            "schema_from": schema_from,
        },
    )
    meter = ReadMeter()
    checker = KeyChecker(schema)
    writer = ParallelBatchWriter(dynamodb, target_table, schema.key_names, threads=options.writers)
    try:
        with writer:
            for part in source.parts:
                for offset, item in enumerate(part.items(meter)):
                    checker.check(item, f"{part.location}, item {offset + 1}")
                    writer.put(item)
    except CorruptBackup as exc:  # only when the backup changed after it was verified (or was not verified)
        raise CorruptBackup(
            f"{exc}; {writer.items_written} items were already written to {target_table!r}: restore a "
            "whole backup over them with overwrite"
        ) from exc
    if expected is not None and writer.items_written != expected:
        raise CorruptBackup(
            f"wrote {writer.items_written} items but {source.location} holds {expected}: "
            "the backup changed while it was being restored"
        )
    result = RestoreResult(
        source=source.location,
        kind=str(source.kind),
        target_table=target_table,
        table_created=created,
        items_restored=writer.items_written,
        files=len(source.parts),
        compressed_bytes=meter.object_bytes,
        schema_from=schema_from,
        duration_seconds=round(time.monotonic() - started, 3),
    )
    logger.info("restore complete", extra={"target": target_table, "items": result.items_restored})
    return result
