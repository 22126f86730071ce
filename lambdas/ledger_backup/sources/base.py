"""What every kind of backup looks like to restore and verify: a source made of ordered parts.

A source is read part by part and each part item by item, always in the same order, so a
position (part index, item offset) names one item for good: a restore that has to stop can
say exactly where to carry on. Each part checks itself (checksum, count, JSON) and raises
CorruptBackup naming the object and the problem, at the latest when it is read to its end.
"""

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Protocol, runtime_checkable

from ledger_backup.codec import Item
from ledger_backup.errors import BackupNotFound
from ledger_backup.schema import TableSchema

# An item, and its stored line when the format stores it as exactly `{"Item": ...}`: that
# line is a BatchWriteItem PutRequest already, which a restore sends instead of encoding the item.
StoredItem = tuple[Item, bytes | None]


class SourceKind(StrEnum):
    LEDGER_BACKUP = "ledger-backup"  # this tool's folders: manifest.json + gzipped JSON lines
    SCAN_JSON = "scan-json"  # the runbook's `aws dynamodb scan --output json` document, maybe gzipped
    DYNAMODB_EXPORT = "dynamodb-export"  # DynamoDB's own "Export to S3", DYNAMODB_JSON format


class NotABackup(BackupNotFound):
    """The object exists but is not a backup of a kind this tool reads."""


@dataclass
class ReadMeter:
    """What reading a part cost: the objects' bytes and the (decompressed) JSON bytes."""

    object_bytes: int = 0
    json_bytes: int = 0


class Part(Protocol):
    """One object of a source (a data file, or a whole scan document)."""

    @property
    def location(self) -> str:
        """Where the object is, as a user would paste it (s3://bucket/key or a path)."""
        ...

    @property
    def expected_items(self) -> int | None:
        """How many items the source's own records say this part holds, when they say."""
        ...

    def items(self, meter: ReadMeter | None = None) -> Iterator[Item]:
        """The part's items as low-level client items, in the same order every time.

        Raises CorruptBackup on the first problem; checks that need the whole object
        (checksums, counts) raise after the last item, so read a part through before
        acting on it when it must be whole.
        """
        ...

    def entries(self, meter: ReadMeter | None = None) -> Iterator[StoredItem]:
        """Like `items`, each with its stored line when that is a PutRequest (see StoredItem)."""
        ...


@runtime_checkable
class ItemLines(Protocol):
    """A part stored as one `{"Item": ...}` line per item (this tool's data files, DynamoDB's exports)."""

    def item_lines(self, meter: ReadMeter | None = None) -> Iterator[bytes]:
        """The part's item lines as stored, unparsed, in `entries`' order; checksum and count checked
        at the end. Only for a part already proved by a verify pass: nothing here looks inside a line."""
        ...


@dataclass(frozen=True)
class Source:
    """A backup of any kind, opened: its records checked, its parts listed, nothing read yet."""

    kind: SourceKind
    key: str  # what reopens this source in its store (a restore that continues in a new invocation)
    location: str
    parts: Sequence[Part]
    schema: TableSchema | None  # only this tool's backups record the table's schema
    expected_items: int | None  # what the source's own records promise, when they do
    integrity: str  # what a full read can prove, for reports: checksums, counts, or only the JSON
    table_name: str | None = None  # the table the backup was taken from, when recorded
    notes: tuple[str, ...] = field(default_factory=tuple)  # facts worth reporting that are not errors
    as_of: datetime | None = None  # the moment the backup is consistent at, when recorded (an export's)
    # A chain (sources/chain.py): the incremental exports applied after this full backup, up to `until`;
    # a restore records them to reopen the same source in its next invocation.
    incrementals: tuple[str, ...] = ()
    until: str = ""
    key_names: tuple[str, ...] = ()  # the key attributes the incrementals' records name
