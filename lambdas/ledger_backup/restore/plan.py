"""A plan: what a restore would change in an existing table, key by key, before anything is written.

The backup (or the chosen keys' share of it) is read through the verify pass, which checks it
as a restore would; each item leaves a row in an index on local disk (SQLite in a temporary
file): its key, a digest of the whole item and one per top-level attribute. Then the table is
read by a consistent parallel Scan (or, for chosen keys, by BatchGetItem) and each of its items
is looked up by key:

- missing: a key of the backup that the table lacks;
- changed: in both, with another content (the report names the attributes that differ);
- same: in both, equal (digests of the canonical encoding: attribute order, set order and
  number spelling do not count, as in restore/digest.py);
- extra: in the table, not in the backup.

Memory stays flat whatever the table's size: items are never kept, the index is on disk with a
small page cache. Digests are 16-byte BLAKE2b per item, 8-byte per attribute; two different
contents share a digest with odds far below any disk's error rate.

The report is JSON lines, one per missing, changed or extra key:
`{"change": "changed", "key": {"book_id": {"S": "..."}}, "attributes": ["status", "steps"]}`.
"""

import contextlib
import hashlib
import json
import os
import sqlite3
import tempfile
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

from ledger_backup.aws.tables import parallel_table_items, table_items_by_key
from ledger_backup.codec import Item
from ledger_backup.restore.digest import canonical_key_text, canonical_value_text
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
REPORTS_FOLDER = "reports/"  # beside the backups and restores/ under the prefix


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


def _attribute_digests(item: Item) -> dict[str, str]:
    return {
        name: hashlib.blake2b(
            canonical_value_text(value).encode("utf-8", "surrogatepass"), digest_size=8
        ).hexdigest()
        for name, value in item.items()
    }


def _item_digest(attributes: dict[str, str]) -> bytes:
    text = "\0".join(f"{name}\0{attributes[name]}" for name in sorted(attributes))
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).digest()


@dataclass
class _Index:
    """The backup's keys and digests on local disk; later copies of a key replace earlier ones."""

    key_names: list[str]
    selection: KeySelection | None
    _connection: sqlite3.Connection = field(init=False)
    _pending: list[tuple[str, bytes, str]] = field(default_factory=list, init=False)
    _file: str = field(default="", init=False)

    def __post_init__(self) -> None:
        handle, self._file = tempfile.mkstemp(prefix="ledger-backup-plan-", suffix=".sqlite")
        os.close(handle)
        self._connection = sqlite3.connect(self._file)
        self._connection.executescript(
            "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF; PRAGMA cache_size=-4096;"
            "CREATE TABLE backup (key TEXT PRIMARY KEY, digest BLOB, attributes TEXT, seen INTEGER DEFAULT 0)"
        )

    def add(self, item: Item) -> None:
        if self.selection is not None and item not in self.selection:
            return
        attributes = _attribute_digests(item)
        key = canonical_key_text(item, self.key_names)
        self._pending.append((key, _item_digest(attributes), json.dumps(attributes, separators=(",", ":"))))
        if len(self._pending) >= _INSERT_BATCH:
            self._write()

    def _write(self) -> None:
        self._connection.executemany(
            "INSERT OR REPLACE INTO backup (key, digest, attributes) VALUES (?, ?, ?)", self._pending
        )
        self._pending.clear()

    def finish(self) -> None:
        self._write()
        self._connection.commit()

    def look_up(self, key: str) -> tuple[bytes, str] | None:
        row = self._connection.execute(
            "SELECT digest, attributes FROM backup WHERE key = ?", (key,)
        ).fetchone()
        if row is None:
            return None
        self._connection.execute("UPDATE backup SET seen = 1 WHERE key = ?", (key,))
        return bytes(row[0]), str(row[1])

    def unseen(self) -> Iterator[str]:
        yield from (row[0] for row in self._connection.execute("SELECT key FROM backup WHERE seen = 0"))

    def keys(self) -> set[str]:
        return {row[0] for row in self._connection.execute("SELECT key FROM backup")}

    def close(self) -> None:
        self._connection.close()
        with contextlib.suppress(OSError):
            os.unlink(self._file)


def _report_line(change: str, key: str, attributes: list[str] | None = None) -> bytes:
    line = f'{{"change":"{change}","key":{key}'
    if attributes is not None:
        line += ',"attributes":' + json.dumps(attributes, ensure_ascii=False)
    return (line + "}\n").encode("utf-8", "surrogatepass")


def _differing(backup: dict[str, str], table: dict[str, str]) -> list[str]:
    return sorted(name for name in backup.keys() | table.keys() if backup.get(name) != table.get(name))


def make_plan(
    dynamodb: "DynamoDBClient",
    source: Source,
    table_name: str,
    schema: TableSchema,
    *,
    selection: KeySelection | None = None,
    report: "LineSink | None" = None,
    on_change: Callable[[str, str], None] | None = None,
) -> Plan:
    """Verify `source`, then compare it (or the selection's share) with `table_name`, key by key.

    `report` receives the JSON-lines report; `on_change(change, key_text)` sees every key's verdict,
    "same" included. A backup that fails its verify pass is reported, and the table is not read.
    """
    key_names = schema.key_names
    index = _Index(key_names, selection)
    try:
        verified = verify_source(source, schema, on_item=index.add)
        if not verified.ok:
            return Plan(verified)
        index.finish()
        counts = {MISSING: 0, CHANGED: 0, SAME: 0, EXTRA: 0}
        lines = 0

        def emit(change: str, key: str, attributes: list[str] | None = None) -> None:
            nonlocal lines
            counts[change] += 1
            if on_change is not None:
                on_change(change, key)
            if report is not None and change != SAME:
                report.write(_report_line(change, key, attributes))
                lines += 1

        for item in _table_items(dynamodb, table_name, selection):
            key = canonical_key_text(item, key_names)
            found = index.look_up(key)
            if found is None:
                emit(EXTRA, key)
                continue
            digest, backup_attributes = found
            table_attributes = _attribute_digests(item)
            if _item_digest(table_attributes) == digest:
                emit(SAME, key)
            else:
                emit(CHANGED, key, _differing(json.loads(backup_attributes), table_attributes))
        for key in index.unseen():
            emit(MISSING, key)
        not_in_backup = 0
        if selection is not None:
            in_backup = index.keys()
            not_in_backup = sum(1 for text, _ in selection.key_texts() if text not in in_backup)
        changes = Changes(counts[MISSING], counts[CHANGED], counts[SAME], counts[EXTRA])
        return Plan(verified, changes, not_in_backup, lines)
    finally:
        index.close()


def _table_items(
    dynamodb: "DynamoDBClient", table_name: str, selection: KeySelection | None
) -> Iterator[Item]:
    if selection is None:
        return parallel_table_items(dynamodb, table_name, _SCAN_SEGMENTS)
    return table_items_by_key(dynamodb, table_name, list(selection.keys))


def plan_to_json(plan: Plan) -> dict[str, Any]:
    """The plan's part of a dry run's answer."""
    if plan.changes is None:
        return {}
    answer: dict[str, Any] = {"changes": plan.changes.to_json()}
    if plan.keys_not_in_backup:
        answer["keys_not_in_backup"] = plan.keys_not_in_backup
    return answer
