"""This tool's own backups: a folder whose manifest lists gzipped `{"Item": ...}` files by SHA-256.

A full export backup (its manifest has a `source`) lists DynamoDB's own data files, whose lines are
read by the export's rules (blank lines allowed, the last newline optional, an empty object a file of
no items); the SHA-256, size and count the manifest records are checked all the same.
"""

from collections.abc import Iterator
from dataclasses import dataclass

from ledger_backup.catalog import Backup, load_backup
from ledger_backup.codec import Item
from ledger_backup.manifest import DataFile, Manifest
from ledger_backup.sources.base import ReadMeter, Source, SourceKind, StoredItem
from ledger_backup.sources.lines import (
    EXPORT_LINES,
    LEDGER_LINES,
    LineFormat,
    decoded_lines,
    item_lines,
    stored_lines,
)
from ledger_backup.storage.stores import BackupStore
from ledger_backup.storage.streams import Checksum, Expected

INTEGRITY = "SHA-256, size and item count of every data file, against the manifest"


def open_ledger(store: BackupStore, key: str) -> Source:
    """Open the backup that `key` names (its manifest's key or its folder)."""
    return ledger_source(store, load_backup(store, key))


def ledger_source(store: BackupStore, backup: Backup) -> Source:
    """A loaded backup as a source: one part per data file, in the manifest's order."""
    manifest = backup.manifest
    return Source(
        kind=SourceKind.LEDGER_BACKUP,
        key=backup.manifest_key,
        location=store.location(backup.manifest_key),
        parts=tuple(
            LedgerPart(store, backup.folder, entry, line_format(manifest)) for entry in manifest.files
        ),
        schema=manifest.schema,
        expected_items=manifest.item_count,
        integrity=INTEGRITY,
        table_name=manifest.table_name,
        as_of=manifest.consistent_at,  # an export backup's export time: incremental exports chain from it
    )


def line_format(manifest: Manifest) -> LineFormat:
    """A Scan's files are this tool's own lines; an export's are DynamoDB's."""
    return EXPORT_LINES if manifest.source is not None else LEDGER_LINES


def expected_of(entry: DataFile) -> Expected:
    """What the manifest promises about one data file: its size, SHA-256 and item count."""
    return Expected(
        item_count=entry.item_count,
        checksum=Checksum.sha256_hex(entry.sha256),
        size=entry.compressed_bytes,
        checksum_by="manifest",
        count_by="the manifest lists",
    )


def read_lines(
    store: BackupStore, folder: str, entry: DataFile, lines: LineFormat = LEDGER_LINES
) -> Iterator[bytes]:
    """The data file's lines as stored, then its size, SHA-256 and count checked (like LedgerPart).

    The check can only finish at the end of the stream, so a caller that must not act on a
    corrupt file reads it through first (see verify.verify_source).
    """
    return decoded_lines(store, folder + entry.key, expected_of(entry), lines, decode=_as_stored)


def _as_stored(line: bytes) -> bytes:
    return line


@dataclass(frozen=True)
class LedgerPart:
    store: BackupStore
    folder: str
    entry: DataFile
    lines: LineFormat = LEDGER_LINES

    @property
    def location(self) -> str:
        return self.store.location(self.folder + self.entry.key)

    @property
    def expected_items(self) -> int:
        return self.entry.item_count

    def items(self, meter: ReadMeter | None = None) -> Iterator[Item]:
        for item, _ in self.entries(meter):
            yield item

    def entries(self, meter: ReadMeter | None = None) -> Iterator[StoredItem]:
        key = self.folder + self.entry.key
        return stored_lines(self.store, key, expected_of(self.entry), self.lines, meter)

    def item_lines(self, meter: ReadMeter | None = None) -> Iterator[bytes]:
        key = self.folder + self.entry.key
        return item_lines(self.store, key, expected_of(self.entry), self.lines, meter)
