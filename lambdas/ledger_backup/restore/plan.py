"""A plan: what a restore would change in an existing table, key by key, before anything is written.

The table is read first, by a consistent parallel Scan whose pages are cut into item texts (or,
for chosen keys, by BatchGetItem), then the verify pass reads the backup (or the chosen keys'
share of it) and checks it as a restore would. One after the other, not at once: both are
CPU-bound Python, and two of them in one process hand the interpreter's lock back and forth at
every hash, socket read and SQLite step, each side waiting out the other's switch interval, which
made the two together slower than in turn (`make bench` measures the plan against the two run one
after the other). Each item of either side leaves a row in an SQLite file on local disk, and a
join of the two sides then classifies every key:

- missing: a key of the backup that the table lacks;
- changed: in both, with another content (the report names the attributes that differ);
- same: in both, equal (digests of a canonical text: attribute order, set order and number
  spelling do not count, see restore/digest.py canonical_value_bytes);
- extra: in the table, not in the backup.

A row holds the key and digests. Of this tool's own backups, whose lines hold the texts a Scan
answered, both sides first digest the item's text as it is (SHA-256, 16 bytes): equal texts are
equal items, which settles nearly every key of a table restored from the backup at the cost of
one hash. Only a key whose texts differ is compared by value: the backup's item gets canonical
digests as it is verified (it knows then that the table's text differs), and the table's item is
read again by key at the join, a hundred at a time, and digested the same way (so a key deleted
in between is missing). Other sources, and chosen keys, get canonical digests on both sides.
Canonical digests are a 16-byte BLAKE2b per item, which decides changed or same (two different
contents share one with odds of about n**2 / 2**129), and a CRC-32 per attribute, which only
names the attributes that differ.

Memory stays flat whatever the table's size: items are never kept, the rows are on disk behind a
small page cache.

The report is JSON lines, one per missing, changed or extra key:
`{"change": "changed", "key": {"book_id": {"S": "..."}}, "attributes": ["status", "steps"]}`.
"""

import base64
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
from ledger_backup.codec import Item, fast_loads, loads_items_json
from ledger_backup.contract import RESTORES_FOLDER
from ledger_backup.reporting import READING_TABLE, ProgressListener
from ledger_backup.restore.digest import canonical_key_text, canonical_value_bytes
from ledger_backup.restore.selection import KeySelection
from ledger_backup.restore.verify import VerifyReport, verify_source
from ledger_backup.schema import TableSchema
from ledger_backup.sources import Source, SourceKind
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


_Row = tuple[str, bytes | None, int | None, bytes | None, bytes | None]
"""key text, item digest, names id, attribute digests (the canonical digests), text digest"""


def text_digest(text: bytes) -> bytes:
    """16 bytes of the SHA-256 of an item's DynamoDB JSON text as DynamoDB sent it (SHA-256, not
    BLAKE2b: CPUs hash it in hardware, x86's SHA extensions and Graviton's alike)."""
    return hashlib.sha256(text).digest()[:16]


_LINE_HEAD, _LINE_TAIL = b'{"Item":', b"}\n"


def _line_text(line: bytes | None) -> bytes | None:
    """The item's text inside a stored `{"Item":<text>}` line as the backup wrote it (a Scan's text)."""
    if line is None or not line.startswith(_LINE_HEAD) or not line.endswith(_LINE_TAIL):
        return None
    return line[len(_LINE_HEAD) : -len(_LINE_TAIL)]


def _wire_key(text: str, key_names: list[str]) -> Item:
    """The key of an item's wire text (B as base64 there), as the codec decodes it (B as bytes).

    Each text is parsed on its own, its value dropped at once: values kept a page at a time (as
    the page cutter could give them) cost the garbage collector more than parsing again.
    """
    document = fast_loads(text)
    key: Item = {}
    for name in key_names:
        value = document[name]
        key[name] = {"B": base64.b64decode(value["B"])} if "B" in value else value
    return key


class _Index:
    """Both sides on local disk, one row per key: the backup's (later copies replace earlier ones) and
    the table's. Rows name their attribute-name list by number (most items share a few).

    In text mode (a backup of this tool's own, whose lines hold the item texts a Scan answered, read
    against a Scan of the table) a table row holds only its key and the digest of its text, and a
    backup row the digest of its line's item text, plus canonical digests only when the table holds
    its key under another text: equal texts are equal items, and only the rest is compared by value
    (the table's side re-read by key, see `_Comparison`). Otherwise every row holds canonical digests.
    """

    def __init__(self, key_names: list[str], selection: KeySelection | None, *, text_mode: bool) -> None:
        self.key_names = key_names
        self.selection = selection
        self.text_mode = text_mode
        handle, self._file = tempfile.mkstemp(prefix="ledger-backup-plan-", suffix=".sqlite")
        os.close(handle)
        self._connection = sqlite3.connect(self._file)  # used by the planning thread only
        self._connection.executescript(
            "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF; PRAGMA cache_size=-4096;"
            + "".join(
                f"CREATE TABLE {side} (key TEXT PRIMARY KEY, digest BLOB, names INTEGER, attributes BLOB, "
                "text BLOB) WITHOUT ROWID;"
                for side in ("backup", "target")
            )
        )
        # Attribute-name lists by number, both ways (few: most items share one); both sides add.
        self._names: dict[str, int] = {}
        self._names_by_number: dict[int, str] = {}
        self._pending: list[_Row] = []

    def row(self, item: Item, text: bytes | None = None) -> _Row:
        """The item's row with canonical digests (and its text's digest, if given)."""
        whole, names, attributes = _digests(item)
        number = self._names.get(names)
        if number is None:
            number = self._names[names] = len(self._names) + 1
            self._names_by_number[number] = names
        digest = text_digest(text) if text is not None else None
        return canonical_key_text(item, self.key_names), whole, number, attributes, digest

    def text_row(self, text: str) -> _Row:
        """A table item's row in text mode: its key and its text's digest."""
        key = canonical_key_text(_wire_key(text, self.key_names), self.key_names)
        return key, None, None, None, text_digest(text.encode("utf-8", "surrogatepass"))

    def add_backup_entry(self, item: Item, line: bytes | None) -> None:
        if self.selection is not None and item not in self.selection:
            return
        text = _line_text(line) if self.text_mode else None
        if text is None:
            self._pending.append(self.row(item))
        else:
            key = canonical_key_text(item, self.key_names)
            digest = text_digest(text)
            found = self._connection.execute("SELECT text FROM target WHERE key = ?", (key,)).fetchone()
            if found is None or bytes(found[0]) == digest:  # missing, or the same text: no value to compare
                self._pending.append((key, None, None, None, digest))
            else:
                self._pending.append(self.row(item, text))
        if len(self._pending) >= _INSERT_BATCH:
            self._insert("backup", self._pending)
            self._pending = []

    def add_target_rows(self, rows: list[_Row]) -> None:
        self._insert("target", rows)

    def _insert(self, table: str, rows: list[_Row]) -> None:
        self._connection.executemany(f"INSERT OR REPLACE INTO {table} VALUES (?, ?, ?, ?, ?)", rows)  # noqa: S608

    def finish(self) -> None:
        self._insert("backup", self._pending)
        self._pending = []
        self._connection.commit()

    def names_of(self, number: int) -> str:
        return self._names_by_number[number]

    def target_rows(self) -> "Iterator[tuple[_Row, _Row | None]]":
        """Each table key's row with the backup's row for it, if any."""
        query = (
            "SELECT t.key, t.digest, t.names, t.attributes, t.text, "
            "b.key, b.digest, b.names, b.attributes, b.text FROM target t LEFT JOIN backup b ON b.key = t.key"
        )
        for row in self._connection.execute(query):
            yield row[:5], (row[5:] if row[5] is not None else None)

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


def _read_table(rows: Iterator[_Row], index: _Index, on_progress: ProgressListener | None) -> None:
    """Every item of the table as a row, inserted a batch at a time (in the planning thread)."""
    if on_progress is not None:
        on_progress.begin(READING_TABLE, None)
    batch: list[_Row] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= _INSERT_BATCH:
            index.add_target_rows(batch)
            if on_progress is not None:
                on_progress.advance(len(batch))
            batch = []
    index.add_target_rows(batch)
    if on_progress is not None:
        on_progress.advance(len(batch))


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
    # Text mode only where both sides are DynamoDB's own answers: this tool's backups against a Scan.
    text_mode = selection is None and source.kind == SourceKind.LEDGER_BACKUP
    index = _Index(schema.key_names, selection, text_mode=text_mode)
    try:
        _read_table(_table_rows(dynamodb, table_name, index), index, on_progress)
        verified = verify_source(source, schema, on_entry=index.add_backup_entry, on_progress=on_progress)
        if not verified.ok:
            return Plan(verified)
        index.finish()
        return _Comparison(index, dynamodb, table_name, report).run(verified, selection)
    finally:
        index.close()


class _Comparison:
    """The join of both sides, key by key, into counts and report lines.

    A key whose texts differ (text mode) is settled by value: its table item is read again by key,
    a hundred at a time (BatchGetItem, consistent), and digested like the backup's. A key that is
    gone by then is missing.
    """

    def __init__(
        self, index: _Index, dynamodb: "DynamoDBClient", table_name: str, report: "LineSink | None"
    ) -> None:
        self.index = index
        self.dynamodb = dynamodb
        self.table_name = table_name
        self.report = report
        self.counts = {MISSING: 0, CHANGED: 0, SAME: 0, EXTRA: 0}
        self.lines = 0
        self._reread: list[_Row] = []  # backup rows whose table item is to be read again

    def run(self, verified: VerifyReport, selection: KeySelection | None) -> Plan:
        for ours, theirs in self.index.target_rows():
            if theirs is None:
                self.emit(EXTRA, ours[0])
            elif ours[4] is not None and ours[4] == theirs[4]:
                self.emit(SAME, ours[0])
            elif ours[1] is None:
                self._reread.append(theirs)
                if len(self._reread) >= _GET_BATCH:
                    self._settle()
            else:
                self.classify(ours, theirs)
        self._settle()
        for key in self.index.missing():
            self.emit(MISSING, key)
        not_in_backup = 0
        if selection is not None:
            in_backup = self.index.backup_keys()
            not_in_backup = sum(1 for text, _ in selection.key_texts() if text not in in_backup)
        counts = self.counts
        changes = Changes(counts[MISSING], counts[CHANGED], counts[SAME], counts[EXTRA])
        return Plan(verified, changes, not_in_backup, self.lines)

    def emit(self, change: str, key: str, attributes: list[str] | None = None) -> None:
        self.counts[change] += 1
        if self.report is not None and change != SAME:
            self.report.write(_report_line(change, key, attributes))
            self.lines += 1

    def classify(self, ours: _Row, theirs: _Row) -> None:
        """Same or changed by the canonical digests of both rows; a changed key names what differs."""
        key, digest, names, attributes, _ = ours
        _, backup_digest, backup_names, backup_attributes, _ = theirs
        if backup_digest is not None and bytes(backup_digest) == bytes(digest or b""):
            self.emit(SAME, key)
            return
        mine = _split(self.index.names_of(int(names or 0)), bytes(attributes or b""))
        other = _split(self.index.names_of(int(backup_names or 0)), bytes(backup_attributes or b""))
        self.emit(CHANGED, key, sorted(n for n in mine.keys() | other.keys() if mine.get(n) != other.get(n)))

    def _settle(self) -> None:
        """Read the waiting keys' table items again and classify each by value."""
        waiting, self._reread = {row[0]: row for row in self._reread}, []
        if not waiting:
            return
        keys = [loads_items_json(key) for key in waiting]
        for item in table_items_by_key(self.dynamodb, self.table_name, keys):
            row = self.index.row(item)
            theirs = waiting.pop(row[0], None)
            if theirs is not None:
                self.classify(row, theirs)
        for key in waiting:  # deleted since the Scan saw it
            self.emit(MISSING, key)


_GET_BATCH = 100  # keys per BatchGetItem


def _table_rows(dynamodb: "DynamoDBClient", table_name: str, index: _Index) -> Iterator[_Row]:
    selection = index.selection
    if selection is not None:
        return (index.row(item) for item in table_items_by_key(dynamodb, table_name, list(selection.keys)))
    texts = parallel_table_texts(dynamodb, table_name, _SCAN_SEGMENTS)
    if index.text_mode:
        return (index.text_row(text) for text in texts)
    # each item decoded on its own: a whole page at once costs the GC far more
    return (index.row(loads_items_json(text)) for text in texts)
