"""Turn what a CLI user types (`s3://bucket/key` or a local path) into a store and a key."""

from dataclasses import dataclass
from pathlib import Path

from ledger_backup import layout
from ledger_backup.clients import s3_client
from ledger_backup.stores import BackupStore, LocalStore, S3Store


@dataclass(frozen=True)
class Location:
    store: BackupStore
    key: str  # a key (or key prefix) inside the store


def parse_location(text: str) -> Location:
    """`s3://bucket/some/key` -> (bucket, "some/key"); anything else is a local path."""
    if text.startswith("s3://"):
        bucket, _, key = text[len("s3://") :].partition("/")
        if not bucket:
            raise ValueError(f"{text!r} names no bucket")
        return Location(S3Store(s3_client(), bucket), key)
    path = Path(text).expanduser()
    if path.name == layout.MANIFEST_NAME:
        return Location(LocalStore(path.parent), layout.MANIFEST_NAME)
    return Location(LocalStore(path), "")


def backup_source(text: str) -> Location:
    """A backup to read: an S3 manifest key or folder, a local manifest.json or backup folder."""
    location = parse_location(text)
    if isinstance(location.store, LocalStore) and location.key == "":
        return Location(location.store, layout.MANIFEST_NAME)
    return location
