"""One backup's Scan, segment by segment: pages of item texts written as backup lines into data files.

Each item's text goes into its line as DynamoDB sent it (aws.scan_texts): the Scan page's
items are the backup's lines, so nothing is decoded or encoded on the way.
"""

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ledger_backup import layout
from ledger_backup.aws.scan_texts import ItemTextPage, ItemTextPages
from ledger_backup.backup.data_files import DataFileWriter
from ledger_backup.backup.progress import BackupProgress, SegmentProgress
from ledger_backup.manifest import DataFile
from ledger_backup.rate_limit import RateLimiter, Unlimited
from ledger_backup.reporting import ProgressListener
from ledger_backup.storage.stores import BackupStore

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.type_defs import ScanInputTypeDef

    from ledger_backup.backup.run import BackupOptions


class Cancelled(Exception):
    """Another segment failed; this one stops early."""


@dataclass
class SegmentScanner:
    """Scans segments of one table into data files; `cancel` makes every segment give up early."""

    scan_pages: ItemTextPages  # shared by the segments' threads
    store: BackupStore
    progress: BackupProgress
    options: "BackupOptions"
    should_pause: Callable[[], bool]
    invocation_id: str
    limiter: RateLimiter | Unlimited
    on_progress: ProgressListener | None = None  # told of each page's items, from the segments' threads
    cancel: threading.Event = field(default_factory=threading.Event)
    _committed: list[str] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def committed_keys(self) -> list[str]:
        with self._lock:
            return list(self._committed)

    def scan(self, segment: int, state: SegmentProgress) -> SegmentProgress:
        """Scan one segment from where it stood until it ends or a pause is asked for."""
        files = list(state.files)
        start_key = state.start_key
        writer: DataFileWriter | None = None
        request: ScanInputTypeDef = {
            "TableName": self.progress.table_name,
            "Segment": segment,
            "TotalSegments": self.progress.total_segments,
            "ConsistentRead": self.options.consistent_read,
            "Limit": self.progress.page_size,
        }
        if start_key is not None:
            request["ExclusiveStartKey"] = start_key
        try:
            for page in self.scan_pages.pages(**request):
                if self.cancel.is_set():
                    raise Cancelled
                lines, count = _backup_lines(page)
                if count:
                    writer = writer or self._open_file(segment, len(files))
                    if self._write_page(writer, lines, count):  # the file is full
                        files.append(self._commit(writer))
                        writer = None
                start_key = page.last_evaluated_key
                if start_key is None or self.should_pause():
                    break
            if writer is not None:
                files.append(self._commit(writer))
                writer = None
        finally:
            if writer is not None:
                writer.abort()
        return SegmentProgress(done=start_key is None, start_key=start_key, files=tuple(files))

    def _open_file(self, segment: int, number: int) -> DataFileWriter:
        name = layout.data_file_name(segment, number, self.invocation_id)
        return DataFileWriter(self.store, self.progress.folder, name, self.options.compress_level)

    def _write_page(self, writer: DataFileWriter, lines: str, count: int) -> bool:
        """A page's lines into the segment's open data file; True when that file is full."""
        writer.write_lines(lines, count)
        if self.on_progress is not None:
            self.on_progress.advance(count)
        self.limiter.acquire(count)
        return writer.uncompressed_bytes >= self.options.max_file_bytes

    def _commit(self, writer: DataFileWriter) -> DataFile:
        entry = writer.finish()
        with self._lock:
            self._committed.append(self.progress.folder + entry.key)
        return entry


def _backup_lines(page: ItemTextPage) -> tuple[str, int]:
    """The page's items as backup lines and their count; the item texts go into the lines as they are."""
    if not page.texts:
        return "", 0
    return '{"Item":' + '}\n{"Item":'.join(page.texts) + "}\n", len(page.texts)
