"""Back up a table: a parallel, paginated Scan streamed through gzip into the backup store.

Each scan segment runs in its own thread and writes its own data files, so memory is
bounded by (segments x one page + one upload part) whatever the table's size. The
manifest is written last and only when every segment finished: a backup without a
manifest is incomplete by definition and is never listed or restored.
"""

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from ledger_backup import layout
from ledger_backup.codec import encode_line
from ledger_backup.data_files import DataFileWriter
from ledger_backup.manifest import DataFile, Manifest
from ledger_backup.stores import BackupStore
from ledger_backup.table_info import read_schema, require_table

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

logger = logging.getLogger(__name__)

_SCAN_PAGE_BYTES = 1024 * 1024  # DynamoDB returns at most 1 MB per Scan page anyway


@dataclass(frozen=True)
class BackupOptions:
    """Tuning knobs; the defaults suit a Lambda with 1 GB of memory."""

    total_segments: int = 4
    page_size: int | None = None  # Scan Limit; None derives it from the table's average item size
    consistent_read: bool = True  # each item as last written, at twice the read cost
    compress_level: int = 3  # gzip level: 3 is several times faster than 9 for a few % more bytes
    max_file_bytes: int = 512 * 1024 * 1024  # start a new data file past this many uncompressed bytes

    def __post_init__(self) -> None:
        if not 1 <= self.total_segments <= 1_000_000:
            raise ValueError("total_segments must be between 1 and 1,000,000")
        if self.page_size is not None and self.page_size < 1:
            raise ValueError("page_size must be positive")


@dataclass(frozen=True)
class BackupResult:
    """What a finished backup produced; `manifest_key` identifies it for restore."""

    table_name: str
    manifest_key: str
    location: str
    item_count: int
    compressed_bytes: int
    uncompressed_bytes: int
    file_count: int
    started_at: str
    finished_at: str
    duration_seconds: float


class _Cancelled(Exception):
    """Another segment failed; this one stops early."""


def scan_page_size(table: dict[str, Any]) -> int:
    """About 1 MB of items per page, from DescribeTable's (approximate) size and count.

    An explicit Limit also keeps DynamoDB Local's scan linear (it is quadratic without one).
    """
    count = int(table.get("ItemCount") or 0)
    size = int(table.get("TableSizeBytes") or 0)
    if count == 0 or size == 0:
        return 1000
    return max(25, min(10_000, _SCAN_PAGE_BYTES * count // size))


def run_backup(
    dynamodb: "DynamoDBClient",
    store: BackupStore,
    table_name: str,
    *,
    prefix: str = "backups/",
    options: BackupOptions | None = None,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> BackupResult:
    """Back up `table_name` into a new folder of `store` and return where it went."""
    options = options or BackupOptions()
    table = require_table(dynamodb, table_name)
    schema = read_schema(dynamodb, table)
    started = now()
    clock_start = time.monotonic()
    folder = layout.backup_folder(prefix, table_name, started)
    page_size = options.page_size or scan_page_size(table)
    logger.info(
        "backup started",
        extra={"table": table_name, "folder": store.location(folder), "segments": options.total_segments},
    )

    scanner = _SegmentScanner(dynamodb, store, table_name, folder, page_size, options)
    with ThreadPoolExecutor(max_workers=options.total_segments, thread_name_prefix="scan") as pool:
        futures = [pool.submit(scanner.scan, s) for s in range(options.total_segments)]
        done, _ = wait(futures, return_when=FIRST_EXCEPTION)
        errors = [error for error in (f.exception() for f in done) if error is not None]
        if errors:
            scanner.stop.set()
            wait(futures)
            _discard_folder(store, folder)
            raise errors[0]

    files = sorted((f for fut in futures for f in fut.result()), key=lambda f: f.key)
    manifest = Manifest(
        table_name=table_name,
        table_arn=table.get("TableArn", ""),
        schema=schema,
        started_at=started.isoformat(),
        finished_at=now().isoformat(),
        total_segments=options.total_segments,
        files=files,
    )
    manifest_key = layout.manifest_key(folder)
    store.put_new(manifest_key, manifest.to_json_bytes())
    result = BackupResult(
        table_name=table_name,
        manifest_key=manifest_key,
        location=store.location(manifest_key),
        item_count=manifest.item_count,
        compressed_bytes=manifest.compressed_bytes,
        uncompressed_bytes=manifest.uncompressed_bytes,
        file_count=len(files),
        started_at=manifest.started_at,
        finished_at=manifest.finished_at,
        duration_seconds=round(time.monotonic() - clock_start, 3),
    )
    logger.info("backup complete", extra={"manifest": result.location, "items": result.item_count})
    return result


@dataclass
class _SegmentScanner:
    """Scans segments of one table into data files; `stop` makes every segment give up early."""

    dynamodb: "DynamoDBClient"
    store: BackupStore
    table_name: str
    folder: str
    page_size: int
    options: BackupOptions
    stop: threading.Event = field(default_factory=threading.Event)

    def scan(self, segment: int) -> list[DataFile]:
        """Scan one segment into data files of at most `max_file_bytes` each."""
        files: list[DataFile] = []
        writer: DataFileWriter | None = None
        pages = self.dynamodb.get_paginator("scan").paginate(
            TableName=self.table_name,
            Segment=segment,
            TotalSegments=self.options.total_segments,
            ConsistentRead=self.options.consistent_read,
            PaginationConfig={"PageSize": self.page_size},
        )
        try:
            for page in pages:
                if self.stop.is_set():
                    raise _Cancelled
                items = page.get("Items", [])
                if not items:
                    continue
                if writer is None:
                    name = layout.data_file_name(segment, len(files))
                    writer = DataFileWriter(self.store, self.folder, name, self.options.compress_level)
                writer.write_lines("".join([encode_line(item) + "\n" for item in items]), len(items))
                if writer.uncompressed_bytes >= self.options.max_file_bytes:
                    files.append(writer.finish())
                    writer = None
            if writer is not None:
                files.append(writer.finish())
                writer = None
        finally:
            if writer is not None:
                writer.abort()
        return files


def _discard_folder(store: BackupStore, folder: str) -> None:
    """Best effort: remove what a failed backup wrote (it has no manifest, so it is incomplete either way)."""
    try:
        store.delete(list(store.list_keys(folder)))
    except Exception:
        logger.warning(
            "could not delete the data files of the failed backup", extra={"folder": folder}, exc_info=True
        )
