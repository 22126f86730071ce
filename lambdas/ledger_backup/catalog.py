"""Finding backups in a store: resolve what a user points at, and list the complete ones."""

from dataclasses import dataclass

from ledger_backup import layout
from ledger_backup.errors import BackupNotFound, IncompleteBackup
from ledger_backup.manifest import Manifest
from ledger_backup.storage.stores import BackupStore


@dataclass(frozen=True)
class Backup:
    """A complete backup: its folder (key prefix) and its parsed manifest."""

    folder: str
    manifest: Manifest

    @property
    def manifest_key(self) -> str:
        return layout.manifest_key(self.folder)


def load_backup(store: BackupStore, key: str) -> Backup:
    """Open the backup that `key` names (its manifest's key or its folder), refusing incomplete ones."""
    if not key or key.startswith("/"):
        raise BackupNotFound(f"{key!r} is not a backup key: give the manifest's key or the backup folder")
    folder = layout.folder_of(key)
    manifest_key = layout.manifest_key(folder)
    if not store.exists(manifest_key):
        if next(iter(store.list_keys(folder)), None) is not None:
            raise IncompleteBackup(
                f"backup {store.location(folder)} has no {layout.MANIFEST_NAME}: it never finished "
                "and is not restored from; pick a complete backup (see `list`)"
            )
        raise BackupNotFound(f"no backup at {store.location(folder)}")
    manifest = Manifest.from_json_bytes(store.get(manifest_key), store.location(manifest_key))
    return Backup(folder=folder, manifest=manifest)


def _manifest_keys(store: BackupStore, prefix: str, table_name: str) -> list[str]:
    """Manifest keys of `table_name`'s backups, newest first (folder names sort in time order)."""
    table_folder = layout.table_folder(prefix, table_name)
    keys = [k for k in store.list_keys(table_folder) if k.endswith(f"/{layout.MANIFEST_NAME}")]
    return sorted(keys, reverse=True)


def list_backups(store: BackupStore, prefix: str, table_name: str) -> list[Backup]:
    """The complete backups of `table_name`, newest first; folders without a manifest are skipped."""
    backups = [load_backup(store, key) for key in _manifest_keys(store, prefix, table_name)]
    return sorted(backups, key=lambda b: b.folder, reverse=True)


def latest_backup(store: BackupStore, prefix: str, table_name: str) -> Backup:
    """The newest complete backup of `table_name`: the newest folder that has a manifest.

    Only that manifest is read. A newest manifest that is corrupt is an error rather than a
    reason to fall back silently to older data.
    """
    keys = _manifest_keys(store, prefix, table_name)
    if not keys:
        raise BackupNotFound(
            f"no complete backup of table {table_name!r} under "
            f"{store.location(layout.table_folder(prefix, table_name))}"
        )
    return load_backup(store, keys[0])
