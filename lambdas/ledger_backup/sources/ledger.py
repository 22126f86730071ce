"""This tool's own backups: a folder whose manifest lists gzipped `{"Item": ...}` files by SHA-256."""

from collections.abc import Iterator
from dataclasses import dataclass

from ledger_backup.backup.data_files import read_lines
from ledger_backup.catalog import Backup, load_backup
from ledger_backup.codec import Item, decode_stored_line
from ledger_backup.errors import CorruptBackup
from ledger_backup.manifest import DataFile
from ledger_backup.sources.base import ReadMeter, Source, SourceKind, StoredItem
from ledger_backup.storage.stores import BackupStore

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
        parts=tuple(LedgerPart(store, backup.folder, entry) for entry in manifest.files),
        schema=manifest.schema,
        expected_items=manifest.item_count,
        integrity=INTEGRITY,
        table_name=manifest.table_name,
    )


@dataclass(frozen=True)
class LedgerPart:
    store: BackupStore
    folder: str
    entry: DataFile

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
        for number, line in enumerate(read_lines(self.store, self.folder, self.entry), start=1):
            try:
                stored = decode_stored_line(line)
            except ValueError as exc:
                raise CorruptBackup(f"{self.location}, line {number}: {exc}") from exc
            yield stored
        if meter is not None:  # read_lines has checked that the object is exactly what the manifest says
            meter.object_bytes += self.entry.compressed_bytes
            meter.json_bytes += self.entry.uncompressed_bytes
