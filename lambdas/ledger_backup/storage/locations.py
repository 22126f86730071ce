"""Turn what a CLI user types (`s3://bucket/key` or a local path) into a store and a key."""

from dataclasses import dataclass
from pathlib import Path

from ledger_backup import layout
from ledger_backup.aws.clients import s3_client
from ledger_backup.errors import InvalidRequest
from ledger_backup.sources.aws_export import SUMMARY_NAME
from ledger_backup.storage.stores import BackupStore, LocalStore, S3Store


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
    """A backup to read: an S3 key or folder; a local file, backup folder or export folder."""
    location = parse_location(text)
    if not isinstance(location.store, LocalStore) or location.key:
        return location
    path = location.store.root
    if path.is_file():
        return Location(LocalStore(path.parent), path.name)
    if (path / SUMMARY_NAME).is_file():
        return Location(location.store, SUMMARY_NAME)
    return Location(location.store, layout.MANIFEST_NAME)


def file_destination(text: str) -> Location:
    """A single file to write: `s3://bucket/key` or a local path (its folder is created)."""
    if text.startswith("s3://"):
        location = parse_location(text)
        if not location.key or location.key.endswith("/"):
            raise InvalidRequest(f"{text!r} names no object: give s3://bucket/path/file.json[.gz]")
        return location
    path = Path(text).expanduser()
    if path.is_dir() or text.endswith(("/", "\\")):
        raise InvalidRequest(f"{text!r} is a folder: give a file name, e.g. {path / 'ledger.json.gz'}")
    return Location(LocalStore(path.parent), path.name)
