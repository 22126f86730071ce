"""Restore a backup into a table, new or existing, losing nothing.

Order of work: load and cross-check the manifest, read every file through to verify its
SHA-256, count and JSON (nothing is written from a backup that fails), prepare the target,
then stream the items into it with parallel BatchWriteItem. Puts are idempotent, so a
restore run twice gives the same table.
"""

import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ledger_backup.batch_write import ParallelBatchWriter
from ledger_backup.catalog import load_backup
from ledger_backup.codec import decode_line
from ledger_backup.data_files import read_lines
from ledger_backup.errors import CorruptBackup
from ledger_backup.stores import BackupStore
from ledger_backup.target import prepare_target
from ledger_backup.verify import verify_backup

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RestoreOptions:
    create_table: bool = True
    overwrite: bool = False
    writers: int = 4
    verify_first: bool = True  # read the whole backup once before writing; off only when it was just verified


@dataclass(frozen=True)
class RestoreResult:
    source: str
    target_table: str
    table_created: bool
    items_restored: int
    files: int
    compressed_bytes: int
    duration_seconds: float


def run_restore(
    dynamodb: "DynamoDBClient",
    store: BackupStore,
    backup_key: str,
    target_table: str,
    *,
    options: RestoreOptions | None = None,
) -> RestoreResult:
    """Restore the backup named by `backup_key` (manifest key or folder) into `target_table`."""
    options = options or RestoreOptions()
    started = time.monotonic()
    backup = load_backup(store, backup_key)
    manifest = backup.manifest
    source = store.location(backup.manifest_key)
    if options.verify_first:
        verify_backup(store, backup)
    created = prepare_target(dynamodb, target_table, manifest.schema, options.create_table, options.overwrite)
    logger.info(
        "restore started",
        extra={
            "source": source,
            "target": target_table,
            "items": manifest.item_count,
            "table_created": created,
        },
    )
    with ParallelBatchWriter(
        dynamodb, target_table, manifest.schema.key_names, threads=options.writers
    ) as writer:
        for entry in manifest.files:
            for line in read_lines(store, backup.folder, entry):
                try:
                    item = decode_line(line)
                except ValueError as exc:
                    raise CorruptBackup(f"{store.location(backup.folder + entry.key)}: {exc}") from exc
                writer.put(item)
    if writer.items_written != manifest.item_count:
        raise CorruptBackup(
            f"wrote {writer.items_written} items but the manifest of {source} lists {manifest.item_count}"
        )
    result = RestoreResult(
        source=source,
        target_table=target_table,
        table_created=created,
        items_restored=writer.items_written,
        files=len(manifest.files),
        compressed_bytes=manifest.compressed_bytes,
        duration_seconds=round(time.monotonic() - started, 3),
    )
    logger.info("restore complete", extra={"target": target_table, "items": result.items_restored})
    return result
