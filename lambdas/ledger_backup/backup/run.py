"""Back up a table: a parallel, paginated Scan streamed through gzip into the backup store.

Each scan segment runs in its own thread and writes its own data files, so memory is
bounded by (segments x one page + one upload part) whatever the table's size. The
manifest is written last and only when every segment finished: a backup without a
manifest is incomplete by definition and is never listed or restored.

A backup may span several invocations: when `should_pause()` turns true (the Lambda
nears its time limit), every segment finishes its current file and the progress is
saved as a checkpoint; `resume_backup` carries on from it.
"""

import logging
import time
import uuid
from collections.abc import Callable
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from ledger_backup import layout
from ledger_backup.aws.scan_texts import ItemTextPages, TextScanner
from ledger_backup.aws.tables import read_schema, require_table, scan_page_size
from ledger_backup.backup.progress import PROGRESS_FOLDER, BackupProgress, SegmentProgress
from ledger_backup.backup.scanner import SegmentScanner
from ledger_backup.catalog import load_backup
from ledger_backup.contract import DEFAULT_BACKUP_PREFIX
from ledger_backup.errors import BackupNotFound, CorruptBackup, InvalidRequest
from ledger_backup.manifest import Manifest
from ledger_backup.names import check_label
from ledger_backup.rate_limit import limiter_for
from ledger_backup.reporting import SCANNING, ProgressListener
from ledger_backup.retention import MAX_RETAIN_DAYS
from ledger_backup.storage.stores import BackupStore

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

logger = logging.getLogger(__name__)


def _never() -> bool:
    return False


@dataclass(frozen=True)
class BackupOptions:
    """Tuning knobs; the defaults suit a Lambda with 1 GB of memory."""

    total_segments: int = 4
    page_size: int | None = None  # Scan Limit; None derives it from the table's average item size
    consistent_read: bool = True  # each item as last written, at twice the read cost
    compress_level: int = 3  # gzip level: 3 is several times faster than 9 for a few % more bytes
    max_file_bytes: int = 512 * 1024 * 1024  # start a new data file past this many uncompressed bytes
    # Leave read capacity to the pipeline; None = as fast as allowed.
    max_items_per_second: float | None = None

    def __post_init__(self) -> None:
        if not 1 <= self.total_segments <= 1_000_000:
            raise ValueError("total_segments must be between 1 and 1,000,000")
        if self.page_size is not None and self.page_size < 1:
            raise ValueError("page_size must be positive")


@dataclass(frozen=True)
class BackupLabel:
    """A backup "before major changes": a name, and how many days the retention policy keeps it.

    Without `retain_days` the label is only a name: the backup is kept as long as the policy
    keeps any other (see README "Retention").
    """

    name: str
    retain_days: int | None = None

    def __post_init__(self) -> None:
        check_label(self.name)
        if self.retain_days is not None and not 1 <= self.retain_days <= MAX_RETAIN_DAYS:
            raise InvalidRequest(
                f"retain_days must be a whole number from 1 to {MAX_RETAIN_DAYS}, not {self.retain_days!r}"
            )

    def retain_until(self, started: datetime) -> str | None:
        if self.retain_days is None:
            return None
        return (started + timedelta(days=self.retain_days)).isoformat()


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
    invocations: int = 1
    label: str | None = None
    retain_until: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The answer of the Lambda (which adds `bucket`) and of the CLI; `s3_key` is what restore takes."""
        return {
            "status": "complete",
            "table": self.table_name,
            "s3_key": self.manifest_key,
            "location": self.location,
            "item_count": self.item_count,
            "compressed_bytes": self.compressed_bytes,
            "uncompressed_bytes": self.uncompressed_bytes,
            "files": self.file_count,
            "invocations": self.invocations,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "duration_seconds": self.duration_seconds,
            **({"label": self.label} if self.label is not None else {}),
            **({"retain_until": self.retain_until} if self.retain_until is not None else {}),
        }


@dataclass(frozen=True)
class BackupInProgress:
    """This invocation stopped before its time ran out; `checkpoint_key` is where the next one starts."""

    table_name: str
    checkpoint_key: str
    location: str
    items_so_far: int
    invocations: int

    def to_json(self) -> dict[str, Any]:
        return {
            "status": "continuing",
            "table": self.table_name,
            "checkpoint_key": self.checkpoint_key,
            "location": self.location,
            "items_so_far": self.items_so_far,
            "invocations": self.invocations,
        }


def run_backup(
    dynamodb: "DynamoDBClient",
    store: BackupStore,
    table_name: str,
    *,
    prefix: str = DEFAULT_BACKUP_PREFIX,
    options: BackupOptions | None = None,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
    scan_pages: ItemTextPages | None = None,
    on_progress: ProgressListener | None = None,
    label: BackupLabel | None = None,
) -> BackupResult:
    """Back up `table_name` into a new folder of `store` in one go (the CLI's way).

    `on_progress` is told of the items as each Scan page is written (reporting.py).
    """
    result = start_backup(
        dynamodb,
        store,
        table_name,
        prefix=prefix,
        options=options,
        now=now,
        scan_pages=scan_pages,
        on_progress=on_progress,
        label=label,
    )
    if not isinstance(result, BackupResult):  # pragma: no cover - only should_pause() can pause
        raise TypeError("a backup without a pause condition paused")
    return result


def start_backup(
    dynamodb: "DynamoDBClient",
    store: BackupStore,
    table_name: str,
    *,
    prefix: str = DEFAULT_BACKUP_PREFIX,
    options: BackupOptions | None = None,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
    should_pause: Callable[[], bool] = _never,
    invocation_id: str | None = None,
    scan_pages: ItemTextPages | None = None,
    on_progress: ProgressListener | None = None,
    label: BackupLabel | None = None,
) -> BackupResult | BackupInProgress:
    """Back up `table_name` into a new folder of `store`: finished, or paused at a checkpoint.

    The items are read through `scan_pages` (default: a TextScanner of `dynamodb`), which
    answers each Scan page as its items' JSON texts: they become the backup's lines as they are.
    `on_progress` hears of them page by page, against the table's approximate ItemCount.
    A `label` is recorded in the checkpoints and the manifest; its retention counts from the start.
    """
    options = options or BackupOptions()
    table = require_table(dynamodb, table_name)
    if on_progress is not None:  # DescribeTable's count, updated every few hours: 0 says nothing
        on_progress.begin(SCANNING, table.get("ItemCount") or None)
    started = now()
    progress = BackupProgress(
        table_name=table_name,
        table_arn=table.get("TableArn", ""),
        schema=read_schema(dynamodb, table),
        folder=layout.backup_folder(prefix, table_name, started),
        started_at=started.isoformat(),
        page_size=options.page_size or scan_page_size(table),
        invocations=0,
        segments=tuple(SegmentProgress() for _ in range(options.total_segments)),
        label=label.name if label is not None else None,
        retain_until=label.retain_until(started) if label is not None else None,
    )
    logger.info(
        "backup started",
        extra={
            "table": table_name,
            "folder": store.location(progress.folder),
            "segments": options.total_segments,
        },
    )
    return _advance(
        store,
        progress,
        options=options,
        now=now,
        should_pause=should_pause,
        invocation_id=invocation_id,
        scan_pages=scan_pages or TextScanner(dynamodb),
        on_progress=on_progress,
    )


def resume_backup(
    dynamodb: "DynamoDBClient",
    store: BackupStore,
    checkpoint_key: str,
    *,
    options: BackupOptions | None = None,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
    should_pause: Callable[[], bool] = _never,
    invocation_id: str | None = None,
    scan_pages: ItemTextPages | None = None,
    table_name: str | None = None,
) -> BackupResult | BackupInProgress:
    """Carry on with the backup a previous invocation paused at `checkpoint_key`.

    A checkpoint that is gone because a replayed twin of this invocation already finished
    the backup (and tidied up) yields that finished backup instead of an error. With
    `table_name`, a checkpoint of another table's backup is refused before anything is scanned:
    the checkpoint names the table to scan, and one can be written by hand.
    """
    try:
        raw = store.get(checkpoint_key)
    except BackupNotFound:
        folder = checkpoint_key.split(f"/{PROGRESS_FOLDER}", maxsplit=1)[0] + "/"
        if not store.exists(layout.manifest_key(folder)):
            raise
        logger.warning("this backup was already completed by another invocation", extra={"folder": folder})
        return backup_result(store, load_backup(store, layout.manifest_key(folder)).manifest, folder, 0.0, 0)
    progress = BackupProgress.from_json_bytes(raw, store.location(checkpoint_key))
    _check_checkpoint(store, checkpoint_key, progress, table_name)
    logger.info(
        "backup resumed", extra={"checkpoint": store.location(checkpoint_key), "items": progress.item_count}
    )
    return _advance(
        store,
        progress,
        options=options or BackupOptions(),
        now=now,
        should_pause=should_pause,
        invocation_id=invocation_id,
        scan_pages=scan_pages or TextScanner(dynamodb),
    )


def _check_checkpoint(
    store: BackupStore, checkpoint_key: str, progress: BackupProgress, table_name: str | None
) -> None:
    """The checkpoint must lie in its own folder's progress/ and, when given, be of `table_name`."""
    location = store.location(checkpoint_key)
    folder, _, name = checkpoint_key.rpartition(f"/{PROGRESS_FOLDER}")
    if f"{folder}/" != progress.folder or "/" in name:
        raise CorruptBackup(f"checkpoint {location} belongs to another folder than {progress.folder!r}")
    if table_name is not None and progress.table_name != table_name:
        raise InvalidRequest(
            f"checkpoint {location} is of a backup of table {progress.table_name!r}: this function "
            f"backs up only {table_name!r}"
        )


def _advance(
    store: BackupStore,
    progress: BackupProgress,
    *,
    options: BackupOptions,
    now: Callable[[], datetime],
    should_pause: Callable[[], bool],
    invocation_id: str | None,
    scan_pages: ItemTextPages,
    on_progress: ProgressListener | None = None,
) -> BackupResult | BackupInProgress:
    """Scan every unfinished segment until done or paused, then write the manifest or a checkpoint."""
    clock_start = time.monotonic()
    invocation_id = invocation_id or uuid.uuid4().hex[:12]
    scanner = SegmentScanner(
        scan_pages=scan_pages,
        store=store,
        progress=progress,
        options=options,
        should_pause=should_pause,
        invocation_id=invocation_id,
        limiter=limiter_for(options.max_items_per_second),
        on_progress=on_progress,
    )
    segments = list(progress.segments)
    pending = [n for n, segment in enumerate(segments) if not segment.done]
    with ThreadPoolExecutor(max_workers=max(1, len(pending)), thread_name_prefix="scan") as pool:
        futures = {n: pool.submit(scanner.scan, n, segments[n]) for n in pending}
        done, _ = wait(futures.values(), return_when=FIRST_EXCEPTION)
        errors = [error for error in (f.exception() for f in done) if error is not None]
        if errors:
            scanner.cancel.set()
            wait(futures.values())
            _delete_quietly(store, scanner.committed_keys(), "the data files of the failed invocation")
            raise errors[0]
    for n, future in futures.items():
        segments[n] = future.result()
    progress = progress.with_segments(segments)

    if not progress.finished:
        checkpoint_key = progress.checkpoint_key(invocation_id)
        store.put_new(checkpoint_key, progress.to_json_bytes())
        logger.info(
            "backup paused",
            extra={"checkpoint": store.location(checkpoint_key), "items": progress.item_count},
        )
        return BackupInProgress(
            table_name=progress.table_name,
            checkpoint_key=checkpoint_key,
            location=store.location(checkpoint_key),
            items_so_far=progress.item_count,
            invocations=progress.invocations,
        )
    return _finish(store, progress, now, time.monotonic() - clock_start)


def _finish(
    store: BackupStore, progress: BackupProgress, now: Callable[[], datetime], seconds: float
) -> BackupResult:
    """Write the manifest once (the first fork of a replayed chain to get here wins), then tidy up."""
    manifest = Manifest(
        table_name=progress.table_name,
        table_arn=progress.table_arn,
        schema=progress.schema,
        started_at=progress.started_at,
        finished_at=now().isoformat(),
        total_segments=progress.total_segments,
        files=progress.files,
        label=progress.label,
        retain_until=progress.retain_until,
    )
    manifest_key = layout.manifest_key(progress.folder)
    try:
        store.put_new(manifest_key, manifest.to_json_bytes())
    except FileExistsError:
        logger.warning("another invocation already completed this backup", extra={"folder": progress.folder})
        manifest = load_backup(store, manifest_key).manifest
    listed = {progress.folder + f.key for f in manifest.files} | {manifest_key}
    leftovers = [key for key in store.list_keys(progress.folder) if key not in listed]
    _delete_quietly(store, leftovers, "checkpoints and unlisted data files")
    if progress.invocations > 1:  # the whole run, not this last invocation's share of it
        seconds = _whole_run_seconds(manifest.started_at, manifest.finished_at, seconds)
    result = backup_result(store, manifest, progress.folder, seconds, progress.invocations)
    logger.info("backup complete", extra={"manifest": result.location, "items": result.item_count})
    return result


def _whole_run_seconds(started_at: str, finished_at: str, at_least: float) -> float:
    try:
        return max(
            at_least,
            (datetime.fromisoformat(finished_at) - datetime.fromisoformat(started_at)).total_seconds(),
        )
    except ValueError:  # a hand-edited record: this invocation's own time is all there is
        return at_least


def backup_result(
    store: BackupStore, manifest: Manifest, folder: str, seconds: float, invocations: int
) -> BackupResult:
    """The answer for the complete backup in `folder` (a scan's, or an export's once cataloged)."""
    manifest_key = layout.manifest_key(folder)
    return BackupResult(
        table_name=manifest.table_name,
        manifest_key=manifest_key,
        location=store.location(manifest_key),
        item_count=manifest.item_count,
        compressed_bytes=manifest.compressed_bytes,
        uncompressed_bytes=manifest.uncompressed_bytes,
        file_count=len(manifest.files),
        started_at=manifest.started_at,
        finished_at=manifest.finished_at,
        duration_seconds=round(seconds, 3),
        invocations=invocations,
        label=manifest.label,
        retain_until=manifest.retain_until,
    )


def _delete_quietly(store: BackupStore, keys: list[str], what: str) -> None:
    """Best effort: what is left behind is never listed or restored, and the bucket's lifecycle expires it."""
    if not keys:
        return
    try:
        store.delete(keys)
    except Exception:
        logger.warning(f"could not delete {what}", extra={"keys": len(keys)}, exc_info=True)
