"""Read a backup through and prove it whole, writing nothing.

A restore into an existing table runs this before its first write, so a corrupt or truncated
backup is refused before any item reaches that table; in the Lambda it may take several
invocations, so it can stop at a position and carry on from there. Every part is read even
after one fails, so a report names every damaged file, not only the first.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ledger_backup.aws.tables import table_items
from ledger_backup.codec import Item
from ledger_backup.errors import BackupNotFound, CorruptBackup
from ledger_backup.item_rules import ItemRejected, ItemRules
from ledger_backup.reporting import READING_TABLE, REPORT_EVERY, VERIFYING, ProgressListener
from ledger_backup.restore.digest import ContentDigest
from ledger_backup.restore.keyset import KeyDigests
from ledger_backup.schema import TableSchema
from ledger_backup.sources.base import ReadMeter, Source

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


@dataclass(frozen=True)
class VerifyReport:
    source: str
    kind: str
    parts: int
    item_count: int
    expected_items: int | None
    object_bytes: int  # bytes of the objects read (compressed where they are)
    json_bytes: int  # bytes of JSON they hold
    integrity: str  # what the format allowed to check
    keys_checked: str | None  # the key schema every item was checked against, if one was known
    problems: tuple[str, ...]
    notes: tuple[str, ...]
    duplicate_keys: int | None = None  # items whose key an earlier item had (None: keys not known)

    @property
    def ok(self) -> bool:
        return not self.problems

    def failure(self) -> str:
        """The problems as one message, first problem first."""
        more = len(self.problems) - 1
        suffix = (
            f" (and {more} more problem{'s' if more > 1 else ''}: run verify to list them)" if more else ""
        )
        return f"{self.source} failed its check: {self.problems[0]}{suffix}"

    def to_json(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "kind": self.kind,
            "parts": self.parts,
            "item_count": self.item_count,
            "expected_items": self.expected_items,
            "object_bytes": self.object_bytes,
            "json_bytes": self.json_bytes,
            "integrity": self.integrity,
            "keys_checked": self.keys_checked,
            "duplicate_keys": self.duplicate_keys,
            "problems": list(self.problems),
            "notes": list(self.notes),
        }


@dataclass(frozen=True)
class DryRunReport:
    """The answer of a dry run (Lambda `"dry_run": true`, CLI `verify`): verified or corrupt, never raised.

    `against` is the CLI's `--against TABLE` comparison, when one was asked for and made.
    """

    report: VerifyReport
    against: "Comparison | None" = None
    changes: dict[str, int] | None = None  # a plan against an existing target (restore/plan.py)
    keys_not_in_backup: int | None = None  # with chosen keys: those the backup lacks
    report_key: str | None = None  # where the plan's JSON-lines report was written

    @property
    def ok(self) -> bool:
        return self.report.ok

    @classmethod
    def unreadable(cls, location: str, error: Exception) -> "DryRunReport":
        """The report on a backup whose own records (manifests) already fail the check."""
        return cls(
            VerifyReport(
                source=location,
                kind="unknown",
                parts=0,
                item_count=0,
                expected_items=None,
                object_bytes=0,
                json_bytes=0,
                integrity="none: the backup's records could not be read",
                keys_checked=None,
                problems=(str(error),),
                notes=(),
            )
        )

    def to_json(self) -> dict[str, Any]:
        document: dict[str, Any] = {
            "status": "verified" if self.ok else "corrupt",
            "dry_run": True,
            **self.report.to_json(),
        }
        if self.against is not None:
            document["against"] = self.against.to_json()
        if self.changes is not None:
            document["changes"] = self.changes
        if self.keys_not_in_backup is not None:
            document["keys_not_in_backup"] = self.keys_not_in_backup
        if self.report_key is not None:
            document["report_key"] = self.report_key
        return document


class KeyChecker:
    """Refuses items that lack a key attribute of the schema, or hold it with another type.

    The write pass's cheap re-check of what the verify pass proved with ItemRules.
    """

    def __init__(self, schema: TableSchema) -> None:
        self.signature = [(name, attr_type) for name, _, attr_type in schema.key_signature()]

    def check(self, item: Item, where: str) -> None:
        for name, attr_type in self.signature:
            value = item.get(name)
            if value is None:
                raise CorruptBackup(f"{where}: the item lacks key attribute {name}")
            if attr_type not in value:
                found = next(iter(value), "?")
                raise CorruptBackup(
                    f"{where}: key attribute {name} is of type {found}, the key schema says {attr_type}"
                )


def never() -> bool:
    """The pause condition of a pass that runs to the end (the CLI's, and any without a journal)."""
    return False


EntryListener = Callable[[Item, bytes | None], None]
"""Hears of each item a verify pass checked, with its stored line when that is exactly `{"Item": ...}`."""

PAUSE_EVERY = REPORT_EVERY  # items between two looks at the clock (and reports) in the verify pass


@dataclass(frozen=True)
class VerifyPaused:
    """Where a verify pass stopped when asked to: the next item to check, and the items checked before it."""

    part_index: int
    item_offset: int
    items: int


class VerifyPass:
    """Reads a source through from a position, checking every item; `run` once.

    State that must outlive an invocation is the position and count (VerifyPaused) and the key
    digests (`keys`, which the caller persists). A part resumed mid-way is read from its start,
    since its checksum covers all of it, but its items before the position are not checked again.
    `on_progress` hears of the items checked, a thousand at a time and at each part's end.
    `lines_are_requests` stays true while every item checked was stored as exactly a PutRequest
    line, which a write pass can then send without reading it again (RestoreProgress).
    """

    def __init__(
        self,
        source: Source,
        schema: TableSchema | None,
        *,
        keys: KeyDigests | None = None,
        on_entry: "EntryListener | None" = None,
        on_progress: ProgressListener | None = None,
    ) -> None:
        self.source = source
        self.schema = schema
        self.keys = keys
        self._rules = ItemRules(schema)
        self._on_entry = on_entry
        self._on_progress = on_progress
        self._reported = 0  # the item count `on_progress` was last told of
        self.meter = ReadMeter()
        self.lines_are_requests = True

    def run(
        self,
        part_index: int = 0,
        item_offset: int = 0,
        items: int = 0,
        should_pause: Callable[[], bool] = never,
    ) -> "VerifyReport | VerifyPaused":
        """Check from (part_index, item_offset) on; pause when `should_pause()` says so (looked at every
        PAUSE_EVERY items), unless a problem was found already: then the report says so at once."""
        problems: list[str] = []
        parts = self.source.parts
        if self._on_progress is not None:
            self._on_progress.begin(VERIFYING, self.source.expected_items)
        self._tell_progress(items)  # what earlier invocations checked
        for index in range(part_index, len(parts)):
            skip = item_offset if index == part_index else 0
            try:
                items, paused = self._check_part(index, skip, items, should_pause)
            except (CorruptBackup, BackupNotFound) as exc:
                problems.append(str(exc))
                self._reported = items  # the failed part's items were read, as reported: not again
                continue
            if paused is not None:
                return paused
            if problems and should_pause():
                break
        expected = self.source.expected_items
        if not problems and expected is not None and items != expected:
            problems.append(f"holds {items} items but its manifest lists {expected}")
        return self._report(items, problems)

    def _tell_progress(self, items: int) -> None:
        """Tell `on_progress` of the items checked since it was last told."""
        if self._on_progress is not None and items > self._reported:
            self._on_progress.advance(items - self._reported)
        self._reported = items

    def _check_part(
        self, index: int, skip: int, items: int, should_pause: Callable[[], bool]
    ) -> tuple[int, VerifyPaused | None]:
        part = self.source.parts[index]
        check, keys, on_entry = self._rules.check, self.keys, self._on_entry
        for offset, (item, stored_line) in enumerate(part.entries(self.meter)):
            if offset < skip:
                continue
            if stored_line is None:
                self.lines_are_requests = False
            try:
                check(item, len(stored_line) if stored_line is not None else None)
            except ItemRejected as rejected:
                raise CorruptBackup(f"{part.location}, item {offset + 1}: {rejected}") from None
            if keys is not None:
                keys.add(item)
            if on_entry is not None:
                on_entry(item, stored_line)
            items += 1
            if items % PAUSE_EVERY == 0:
                self._tell_progress(items)
                if should_pause():
                    return items, VerifyPaused(index, offset + 1, items)
        self._tell_progress(items)
        return items, None

    def _report(self, items: int, problems: list[str]) -> VerifyReport:
        source, schema = self.source, self.schema
        return VerifyReport(
            source=source.location,
            kind=str(source.kind),
            parts=len(source.parts),
            item_count=items,
            expected_items=source.expected_items,
            object_bytes=self.meter.object_bytes,
            json_bytes=self.meter.json_bytes,
            integrity=source.integrity,
            keys_checked=schema.describe_keys() if schema is not None else None,
            problems=tuple(problems),
            notes=source.notes,
            duplicate_keys=self.keys.duplicates if self.keys is not None else None,
        )


def verify_source(
    source: Source,
    schema: TableSchema | None = None,
    *,
    on_entry: "EntryListener | None" = None,
    on_progress: ProgressListener | None = None,
) -> VerifyReport:
    """Read every part through: checksums, counts, JSON, every item against DynamoDB's rules, duplicates.

    `schema` is the key schema and indexes of the table the items go to (the target's when it
    exists): with it, keys and index keys are checked and duplicate keys counted. `on_entry` sees
    every item read with its stored line (e.g. to digest them in the same pass); `on_progress`
    hears how many, a thousand at a time. Problems are collected, one per damaged part, not raised.
    """
    keys = KeyDigests(schema) if schema is not None else None
    report = VerifyPass(source, schema, keys=keys, on_entry=on_entry, on_progress=on_progress).run()
    if not isinstance(report, VerifyReport):  # pragma: no cover - never() never pauses
        raise TypeError("a verify pass without a pause condition paused")
    return report


@dataclass(frozen=True)
class Comparison:
    """A backup's items against a table's: counts and order-independent content digests."""

    table: str
    backup_items: int
    backup_digest: str
    table_items: int
    table_digest: str

    @property
    def match(self) -> bool:
        return (self.backup_items, self.backup_digest) == (self.table_items, self.table_digest)

    def to_json(self) -> dict[str, Any]:
        return {
            "table": self.table,
            "verdict": "match" if self.match else "mismatch",
            "backup_items": self.backup_items,
            "backup_digest": self.backup_digest,
            "table_items": self.table_items,
            "table_digest": self.table_digest,
        }

    def failure(self) -> str:
        return (
            f"table {self.table!r} does not hold exactly the backup's items: the backup has "
            f"{self.backup_items} items (digest {self.backup_digest[:16]}...), the table {self.table_items} "
            f"(digest {self.table_digest[:16]}...)"
        )


def compare_with_table(
    dynamodb: "DynamoDBClient",
    source: Source,
    table_name: str,
    schema: TableSchema | None,
    *,
    on_progress: ProgressListener | None = None,
) -> tuple[VerifyReport, Comparison | None]:
    """Verify the source and, when it is whole, check that `table_name` holds exactly its items.

    The backup is digested during its verifying read, the table by a consistent Scan; no
    item is kept in memory. No comparison is made for a backup that failed its check.
    `on_progress` hears of both reads, the table's against the backup's count.
    """
    backup_digest = ContentDigest()
    report = verify_source(
        source, schema, on_entry=lambda item, _line: backup_digest.add(item), on_progress=on_progress
    )
    if not report.ok:
        return report, None
    table_digest = ContentDigest()
    if on_progress is not None:
        on_progress.begin(READING_TABLE, report.item_count)
    for item in table_items(dynamodb, table_name):
        table_digest.add(item)
        if on_progress is not None and table_digest.items % REPORT_EVERY == 0:
            on_progress.advance(REPORT_EVERY)
    if on_progress is not None and table_digest.items % REPORT_EVERY:
        on_progress.advance(table_digest.items % REPORT_EVERY)
    comparison = Comparison(
        table=table_name,
        backup_items=backup_digest.items,
        backup_digest=backup_digest.hexdigest,
        table_items=table_digest.items,
        table_digest=table_digest.hexdigest,
    )
    return report, comparison
