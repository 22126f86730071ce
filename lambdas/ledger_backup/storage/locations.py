"""Turn what a CLI user types (`s3://bucket/key` or a local path) into a store and a key.

Each kind of location is checked here, before any work starts: a bucket-less `s3://`, a
file where a folder is needed or the reverse, a folder that is not there. The messages say
which location is wrong and what to give instead.
"""

from dataclasses import dataclass
from pathlib import Path

from ledger_backup import layout
from ledger_backup.aws.clients import s3_client
from ledger_backup.errors import InvalidRequest
from ledger_backup.names import check_bucket_name
from ledger_backup.sources.aws_export import SUMMARY_NAME
from ledger_backup.storage.stores import BackupStore, LocalStore, S3Store

S3_SCHEME = "s3://"


@dataclass(frozen=True)
class Location:
    store: BackupStore
    key: str  # a key (or key prefix) inside the store


def split_s3(text: str) -> tuple[str, str]:
    """`s3://bucket/some/key` -> ("bucket", "some/key"), the bucket name checked."""
    bucket, _, key = text[len(S3_SCHEME) :].partition("/")
    if not bucket:
        raise InvalidRequest(f"{text!r} names no bucket: give s3://BUCKET[/prefix]")
    check_bucket_name(bucket)
    return bucket, key


def parse_location(text: str) -> Location:
    """`s3://bucket/some/key` -> (bucket, "some/key"); anything else is a local path."""
    if not text:
        raise InvalidRequest("an empty location: give s3://bucket[/prefix] or a local path")
    if text.startswith(S3_SCHEME):
        bucket, key = split_s3(text)
        return Location(S3Store(s3_client(), bucket), key)
    path = Path(text).expanduser()
    if path.name == layout.MANIFEST_NAME:
        return Location(LocalStore(path.parent), layout.MANIFEST_NAME)
    return Location(LocalStore(path), "")


def folder_location(text: str, *, must_exist: bool) -> Location:
    """A place that holds backups (or journals): a bucket and prefix, or a local folder.

    `must_exist` for a place that is read (a missing folder is a typo, not an empty list);
    a place that is written is created, so only a file in its way is refused.
    """
    if not text or text.startswith(S3_SCHEME):
        return parse_location(text)
    path = Path(text).expanduser()
    if path.exists() and not path.is_dir():
        raise InvalidRequest(f"{text!r} is a file, not a folder: give a folder (or s3://bucket[/prefix])")
    if must_exist and not path.exists():
        raise InvalidRequest(f"no folder {text!r}: check the path (or give s3://bucket[/prefix])")
    if not must_exist:
        _check_creatable(text, path)
    return Location(LocalStore(path), "")


def backup_source(text: str) -> Location:
    """A backup to read: an S3 key or folder; a local file, backup folder or export folder."""
    location = parse_location(text)
    if isinstance(location.store, S3Store) and not location.key:
        raise InvalidRequest(
            f"{text!r} names a bucket, not a backup: give the backup's folder or manifest.json "
            f"(e.g. {text.rstrip('/')}/backups/TABLE/TIMESTAMP/), or add --latest-of TABLE"
        )
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
    if text.startswith(S3_SCHEME):
        location = parse_location(text)
        if not location.key or location.key.endswith("/"):
            raise InvalidRequest(f"{text!r} names no object: give s3://bucket/path/file.json[.gz]")
        return location
    if not text:
        raise InvalidRequest("an empty file name: give a path such as data/ledger.json.gz")
    path = Path(text).expanduser()
    if path.is_dir() or text.endswith(("/", "\\")):
        raise InvalidRequest(f"{text!r} is a folder: give a file name, e.g. {path / 'ledger.json.gz'}")
    _check_creatable(text, path.parent)
    return Location(LocalStore(path.parent), path.name)


def _check_creatable(text: str, folder: Path) -> None:
    """The folder exists or can be made: no file stands where one of its parents would be."""
    for parent in (folder, *folder.parents):
        if parent.exists():
            if not parent.is_dir():
                raise InvalidRequest(
                    f"{text!r} cannot be created: {str(parent)!r} is a file, not a folder; pick another path"
                )
            return
