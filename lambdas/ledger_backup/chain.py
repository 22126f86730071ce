"""A full export backup and the incremental exports chained to it, read and checked as one.

The links live in the base's folder (`<base>incrementals/<ts>/incremental.json`, see
ledger_backup.manifest), so a base and its chain are kept or pruned together.
"""

from dataclasses import dataclass
from datetime import datetime

from ledger_backup import layout
from ledger_backup.catalog import Backup, load_backup
from ledger_backup.errors import CorruptBackup
from ledger_backup.manifest import INCREMENTAL_NAME, INCREMENTALS_FOLDER, IncrementalManifest, chain_errors
from ledger_backup.storage.stores import BackupStore


@dataclass(frozen=True)
class Chain:
    """The base backup, its links in sequence order, and what breaks the chain (empty when whole)."""

    base: Backup
    links: list[tuple[str, IncrementalManifest]]  # (the link's folder, its record)
    problems: list[str]

    @property
    def end(self) -> datetime:
        """The moment up to which the chain holds the table's changes (exclusive)."""
        if self.links:
            return self.links[-1][1].to_time
        moment = self.base.manifest.consistent_at
        if moment is None:
            raise CorruptBackup(f"{self.base.folder} is a scan backup: no incremental export follows it")
        return moment


def load_chain(store: BackupStore, base_key: str) -> Chain:
    """Read the base backup `base_key` names and every incremental link recorded in its folder.

    Only the links' own records are listed (`incremental.json`), never DynamoDB's data folders.
    A link that cannot be read is a problem of the chain, not a link skipped: a restore through it
    would silently lose that link's changes.
    """
    base = load_backup(store, base_key)
    links: list[tuple[str, IncrementalManifest]] = []
    problems: list[str] = []
    for key in store.list_keys(base.folder + INCREMENTALS_FOLDER):
        if not key.endswith(f"/{INCREMENTAL_NAME}"):
            continue
        folder = key[: -len(INCREMENTAL_NAME)]
        if folder.count("/") != base.folder.count("/") + 2:  # <base>incrementals/<ts>/ only
            continue
        try:
            links.append((folder, IncrementalManifest.from_json_bytes(store.get(key), store.location(key))))
        except CorruptBackup as exc:
            problems.append(str(exc))
    links.sort(key=lambda entry: (entry[1].sequence, entry[1].from_time, entry[0]))
    problems.extend(chain_errors(base.folder, base.manifest, links))
    return Chain(base=base, links=links, problems=problems)


def manifest_key_of(folder: str) -> str:
    """The key of a link's record in its folder (`incremental.json`), the base's being manifest.json."""
    return folder + INCREMENTAL_NAME if INCREMENTALS_FOLDER in folder else layout.manifest_key(folder)
