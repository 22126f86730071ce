"""Read a backup through and prove it whole, writing nothing.

Restore runs this before its first write, so a corrupt or truncated backup is refused
before any item reaches the target table.
"""

from dataclasses import dataclass

from ledger_backup.catalog import Backup
from ledger_backup.codec import decode_line
from ledger_backup.data_files import read_lines
from ledger_backup.errors import CorruptBackup
from ledger_backup.stores import BackupStore


@dataclass(frozen=True)
class VerifyReport:
    files: int
    item_count: int
    compressed_bytes: int
    uncompressed_bytes: int


def verify_backup(store: BackupStore, backup: Backup) -> VerifyReport:
    """Check every file's SHA-256, line count and JSON; raise CorruptBackup naming the first problem."""
    key_names = backup.manifest.schema.key_names
    for entry in backup.manifest.files:
        where = store.location(backup.folder + entry.key)
        for number, line in enumerate(read_lines(store, backup.folder, entry), start=1):
            try:
                item = decode_line(line)
            except ValueError as exc:
                raise CorruptBackup(f"{where}, line {number}: {exc}") from exc
            missing = [name for name in key_names if name not in item]
            if missing:
                raise CorruptBackup(
                    f"{where}, line {number}: item lacks key attribute(s) {', '.join(missing)}"
                )
    manifest = backup.manifest
    return VerifyReport(
        files=len(manifest.files),
        item_count=manifest.item_count,
        compressed_bytes=manifest.compressed_bytes,
        uncompressed_bytes=manifest.uncompressed_bytes,
    )
