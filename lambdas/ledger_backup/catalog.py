"""Finding backups in a store: resolve what a user points at, and list the complete ones."""

from dataclasses import dataclass

from ledger_backup import layout
from ledger_backup.errors import BackupNotFound, IncompleteBackup, LedgerBackupError
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
    """Manifest keys of `table_name`'s backups, in the store's order."""
    table_folder = layout.table_folder(prefix, table_name)
    return [k for k in store.list_keys(table_folder) if k.endswith(f"/{layout.MANIFEST_NAME}")]


@dataclass(frozen=True)
class UnreadableBackup:
    """A folder with a manifest that cannot be read: named in listings, never restored from."""

    folder: str
    problem: str

    @property
    def manifest_key(self) -> str:
        return layout.manifest_key(self.folder)


@dataclass(frozen=True)
class Catalog:
    """A table's backups: the complete ones newest first, and those whose manifest cannot be read."""

    backups: list[Backup]
    unreadable: list[UnreadableBackup]

    def skipped(self, store: BackupStore) -> tuple[str, ...]:
        """One line per unreadable backup, for a report's notes."""
        return tuple(
            f"skipped {store.location(u.manifest_key)}: its manifest cannot be read ({u.problem})"
            for u in self.unreadable
        )


def survey(store: BackupStore, prefix: str, table_name: str) -> Catalog:
    """Read every manifest of `table_name`'s backups, newest first by the time each records.

    Folder names are not trusted for the order: a folder copied or named by hand would otherwise
    win forever. A manifest that cannot be read is set aside with its problem, not allowed to
    hide every other backup.
    """
    backups: list[Backup] = []
    unreadable: list[UnreadableBackup] = []
    for key in _manifest_keys(store, prefix, table_name):
        try:
            backups.append(load_backup(store, key))
        except (LedgerBackupError, OSError) as exc:
            unreadable.append(UnreadableBackup(layout.folder_of(key), str(exc)))
    backups.sort(key=lambda b: (b.manifest.finished, b.folder), reverse=True)
    return Catalog(backups, unreadable)


def list_backups(store: BackupStore, prefix: str, table_name: str) -> list[Backup]:
    """The complete, readable backups of `table_name`, newest first (see `survey`)."""
    return survey(store, prefix, table_name).backups


def latest_backup(store: BackupStore, prefix: str, table_name: str) -> Backup:
    """The newest complete backup of `table_name` by its manifest's recorded finish time."""
    return latest_of(store, prefix, table_name, survey(store, prefix, table_name))


def latest_of(store: BackupStore, prefix: str, table_name: str, catalog: Catalog) -> Backup:
    """The catalog's newest backup; BackupNotFound naming the unreadable ones when there is none."""
    if not catalog.backups:
        unreadable = f" ({len(catalog.unreadable)} with an unreadable manifest)" if catalog.unreadable else ""
        raise BackupNotFound(
            f"no complete backup of table {table_name!r} under "
            f"{store.location(layout.table_folder(prefix, table_name))}{unreadable}"
        )
    return catalog.backups[0]
