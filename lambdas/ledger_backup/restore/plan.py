"""A plan: what a restore would change in an existing table, key by key, before anything is written.

The table is read first, by a consistent parallel Scan whose pages are cut into item texts and
each item decoded on its own (or, for chosen keys, by BatchGetItem),
then the verify pass reads the backup (or the chosen keys' share of it) and checks it as a
restore would. One after the other, not at once: both are CPU-bound Python, and two of them in
one process hand the interpreter's lock back and forth at every hash, socket read and SQLite
step, each side waiting out the other's switch interval, which made the two together slower than
in turn (`make bench` measures the plan against the two run one after the other). Each item of either side
leaves a row in an SQLite file on local disk: its key, a digest of the whole item and one per
top-level attribute. A join of the two sides then classifies every key:

- missing: a key of the backup that the table lacks;
- changed: in both, with another content (the report names the attributes that differ);
- same: in both, equal (digests of a canonical text: attribute order, set order and number
  spelling do not count, see restore/digest.py canonical_value_bytes);
- extra: in the table, not in the backup.

Memory stays flat whatever the table's size: items are never kept, the rows are on disk behind a
small page cache. Digests are 16-byte BLAKE2b per item, which decides changed or same (two
different contents share one with odds of about n**2 / 2**129), and a CRC-32 per attribute, which
only names the attributes that differ.

The report is JSON lines, one per missing, changed or extra key:
`{"change": "changed", "key": {"book_id": {"S": "..."}}, "attributes": ["status", "steps"]}`.
"""

import contextlib
import hashlib
import json
import os
import sqlite3
import struct
import tempfile
import uuid
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Protocol

from ledger_backup.aws.tables import parallel_table_texts, table_items_by_key
from ledger_backup.codec import Item, loads_items_json
from ledger_backup.contract import RESTORES_FOLDER
from ledger_backup.reporting import READING_TABLE, ProgressListener
from ledger_backup.restore.digest import canonical_key_text, canonical_value_bytes
from ledger_backup.restore.selection import KeySelection
from ledger_backup.restore.verify import VerifyReport, verify_source
from ledger_backup.schema import TableSchema
from ledger_backup.sources import Source
from ledger_backup.storage.stores import BackupStore, Upload

if TYPE_CHECKING:
    from contextlib import AbstractContextManager

    from mypy_boto3_dynamodb import DynamoDBClient

__all__ = ["Changes", "Plan", "ReportFile", "ReportSink", "StoredReport", "make_plan", "report_key"]

MISSING, CHANGED, SAME, EXTRA = "missing", "changed", "same", "extra"
_INSERT_BATCH = 2000  # rows per executemany: SQLite's cost is per statement, not per row
_SCAN_SEGMENTS = 4
REPORTS_FOLDER = f"{RESTORES_FOLDER}reports/"  # the one folder the restore function may write


@dataclass(frozen=True)
class Changes:
    missing: int = 0
    changed: int = 0
    same: int = 0
    extra: int = 0

    def to_json(self) -> dict[str, int]:
        return {MISSING: self.missing, CHANGED: self.changed, SAME: self.same, EXTRA: self.extra}


@dataclass(frozen=True)
class Plan:
    """The verify pass's report and, when the backup passed it, the changes against the table."""

    verify: VerifyReport
    changes: Changes | None = None
    keys_not_in_backup: int = 0  # chosen keys the backup lacks (in neither: not reported as extra)
    report_lines: int = 0


class LineSink(Protocol):
    """Takes the report's lines: a file, an upload, a BytesIO."""

    def write(self, data: bytes, /) -> int: ...


class ReportFile(LineSink, Protocol):
    """An open report: kept when its block ends, unless discarded (a backup that failed its check)."""

    def discard(self) -> None: ...


class ReportSink(Protocol):
    """Where a plan's report goes: `open()` gives a context manager of a ReportFile."""

    @property
    def location(self) -> str: ...

    def open(self) -> "AbstractContextManager[ReportFile]": ...


class _UploadReport:
    def __init__(self, upload: Upload) -> None:
        self._upload = upload
        self.discarded = False

    def write(self, data: bytes, /) -> int:
        return self._upload.write(data)

    def discard(self) -> None:
        self.discarded = True


class StoredReport:
    """A report written as one object of a store (S3 multipart upload, or a local file renamed into place)."""

    def __init__(self, store: BackupStore, key: str) -> None:
        self._store = store
        self.key = key

    @property
    def location(self) -> str:
        return self._store.location(self.key)

    @contextmanager
    def open(self) -> "Iterator[ReportFile]":
        upload = self._store.open_upload(self.key)
        report = _UploadReport(upload)
        try:
            yield report
        except BaseException:
            upload.abort()
            raise
        if report.discarded:
            upload.abort()
        else:
            upload.commit()


def report_key(prefix: str, target_table: str) -> str:
    """Where a plan's report goes: `<prefix>reports/<table>/<UTC time>-<random>.jsonl`, never overwritten."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    return f"{prefix}{REPORTS_FOLDER}{target_table}/{stamp}-{uuid.uuid4().hex[:8]}.jsonl"


_ATTRIBUTE_DIGEST_BYTES = 4  # per attribute: only which attributes differ rides on it, not whether


def _digests(item: Item) -> tuple[bytes, str, bytes]:
    """The item's 16-byte digest, its sorted attribute names NUL-joined, and their 4-byte CRC-32s.

    The item's digest is BLAKE2b of the names and every attribute's canonical text, each after
    its length, so no two items share their input; a CRC-32 per attribute (cheaper than a hash,
    and only to name what differs) is enough for the report.
    """
    names = sorted(item)
    texts = [canonical_value_bytes(item[name]) for name in names]
    joined = "\0".join(names)
    attributes = struct.pack(f"<{len(texts)}I", *map(zlib.crc32, texts))
    framed = b"".join([struct.pack("<I", len(text)) + text for text in texts])
    whole = hashlib.blake2b(joined.encode("utf-8", "surrogatepass") + b"\0" + framed, digest_size=16).digest()
    return whole, joined, attributes


def _split(names: str, attributes: bytes) -> dict[str, bytes]:
    size = _ATTRIBUTE_DIGEST_BYTES
    return {name: attributes[n * size : (n + 1) * size] for n, name in enumerate(names.split("\0"))}


_Row = tuple[str, bytes, int, bytes]  # key text, item digest, names id, attribute digests


class _Index:
    """Both sides on local disk, one row per key: the backup's (later copies replace earlier ones) and
    the table's. Rows name their attribute-name list by number (most items share a few)."""

    def __init__(self, key_names: list[str], selection: KeySelection | None) -> None:
        self.key_names = key_names
        self.selection = selection
        handle, self._file = tempfile.mkstemp(prefix="ledger-backup-plan-", suffix=".sqlite")
        os.close(handle)
        self._connection = sqlite3.connect(self._file)  # used by the planning thread only
        self._connection.executescript(
            "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF; PRAGMA cache_size=-4096;"
            + "".join(
                f"CREATE TABLE {side} (key TEXT PRIMARY KEY, digest BLOB, names INTEGER, attributes BLOB) "
                "WITHOUT ROWID;"
                for side in ("backup", "target")
            )
        )
        # Attribute-name lists by number, both ways (few: most items share one); both sides add.
        self._names: dict[str, int] = {}
        self._names_by_number: dict[int, str] = {}
        self._pending: list[_Row] = []

    def row(self, item: Item) -> _Row:
        whole, names, attributes = _digests(item)
        number = self._names.get(names)
        if number is None:
            number = self._names[names] = len(self._names) + 1
            self._names_by_number[number] = names
        return canonical_key_text(item, self.key_names), whole, number, attributes

    def add_backup_item(self, item: Item) -> None:
        if self.selection is not None and item not in self.selection:
            return
        self._pending.append(self.row(item))
        if len(self._pending) >= _INSERT_BATCH:
            self._insert("backup", self._pending)
            self._pending = []

    def add_target_rows(self, rows: list[_Row]) -> None:
        self._insert("target", rows)

    def _insert(self, table: str, rows: list[_Row]) -> None:
        self._connection.executemany(f"INSERT OR REPLACE INTO {table} VALUES (?, ?, ?, ?)", rows)  # noqa: S608

    def finish(self) -> None:
        self._insert("backup", self._pending)
        self._pending = []
        self._connection.commit()

    def names_of(self, number: int) -> str:
        return self._names_by_number[number]

    def target_rows(self) -> Iterator[tuple[str, bytes, int, bytes, bytes | None, int | None, bytes | None]]:
        """Each table key with the backup's row for it, if any."""
        yield from self._connection.execute(
            "SELECT t.key, t.digest, t.names, t.attributes, b.digest, b.names, b.attributes "
            "FROM target t LEFT JOIN backup b ON b.key = t.key"
        )

    def missing(self) -> Iterator[str]:
        """The backup's keys the table lacks."""
        query = "SELECT key FROM backup b WHERE NOT EXISTS (SELECT 1 FROM target t WHERE t.key = b.key)"
        yield from (row[0] for row in self._connection.execute(query))

    def backup_keys(self) -> set[str]:
        return {row[0] for row in self._connection.execute("SELECT key FROM backup")}

    def close(self) -> None:
        self._connection.close()
        with contextlib.suppress(OSError):
            os.unlink(self._file)


def _read_table(items: Iterator[Item], index: _Index, on_progress: ProgressListener | None) -> None:
    """Every item of the table as a row, inserted a batch at a time (in the planning thread)."""
    if on_progress is not None:
        on_progress.begin(READING_TABLE, None)
    rows: list[_Row] = []
    for item in items:
        rows.append(index.row(item))
        if len(rows) >= _INSERT_BATCH:
            index.add_target_rows(rows)
            if on_progress is not None:
                on_progress.advance(len(rows))
            rows = []
    index.add_target_rows(rows)
    if on_progress is not None:
        on_progress.advance(len(rows))


def _report_line(change: str, key: str, attributes: list[str] | None = None) -> bytes:
    line = f'{{"change":"{change}","key":{key}'
    if attributes is not None:
        line += ',"attributes":' + json.dumps(attributes, ensure_ascii=False)
    return (line + "}\n").encode("utf-8", "surrogatepass")


def make_plan(
    dynamodb: "DynamoDBClient",
    source: Source,
    table_name: str,
    schema: TableSchema,
    *,
    selection: KeySelection | None = None,
    report: "LineSink | None" = None,
    on_progress: ProgressListener | None = None,
) -> Plan:
    """Read `table_name`, then verify `source`, then compare them (or the selection's share) key by key.

    `report` receives the JSON-lines report. A backup that fails its verify pass is reported.
    `on_progress` hears of the table's items as they are read, then of the backup's as they are checked.
    """
    index = _Index(schema.key_names, selection)
    try:
        _read_table(_table_items(dynamodb, table_name, selection), index, on_progress)
        verified = verify_source(source, schema, on_item=index.add_backup_item, on_progress=on_progress)
        if not verified.ok:
            return Plan(verified)
        index.finish()
        return _compare(index, verified, selection, report)
    finally:
        index.close()


def _compare(
    index: _Index, verified: VerifyReport, selection: KeySelection | None, report: "LineSink | None"
) -> Plan:
    counts = {MISSING: 0, CHANGED: 0, SAME: 0, EXTRA: 0}
    lines = 0

    def emit(change: str, key: str, attributes: list[str] | None = None) -> None:
        nonlocal lines
        counts[change] += 1
        if report is not None and change != SAME:
            report.write(_report_line(change, key, attributes))
            lines += 1

    for key, digest, names, attributes, backup_digest, backup_names, backup_attributes in index.target_rows():
        if backup_digest is None:
            emit(EXTRA, key)
        elif bytes(backup_digest) == bytes(digest):
            emit(SAME, key)
        else:
            ours = _split(index.names_of(names), attributes)
            theirs = _split(index.names_of(int(backup_names or 0)), bytes(backup_attributes or b""))
            emit(CHANGED, key, sorted(n for n in ours.keys() | theirs.keys() if ours.get(n) != theirs.get(n)))
    for key in index.missing():
        emit(MISSING, key)
    not_in_backup = 0
    if selection is not None:
        in_backup = index.backup_keys()
        not_in_backup = sum(1 for text, _ in selection.key_texts() if text not in in_backup)
    changes = Changes(counts[MISSING], counts[CHANGED], counts[SAME], counts[EXTRA])
    return Plan(verified, changes, not_in_backup, lines)


def _table_items(
    dynamodb: "DynamoDBClient", table_name: str, selection: KeySelection | None
) -> Iterator[Item]:
    if selection is None:  # each item decoded on its own: a whole page at once costs the GC far more
        return (loads_items_json(text) for text in parallel_table_texts(dynamodb, table_name, _SCAN_SEGMENTS))
    return table_items_by_key(dynamodb, table_name, list(selection.keys))
