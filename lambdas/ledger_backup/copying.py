"""Copy one backup to a second place (a local folder or another bucket), every checksum proven there.

The runbook's "copy to an external backup system": the copy must be as trustworthy as the
original, so nothing is taken on faith.

- Each data file the manifest lists is streamed (constant memory; a multipart upload to S3)
  while its bytes are hashed: a source whose bytes disagree with the manifest's sha256 and
  size is refused before its copy is committed.
- Once every file is written, each is read back AT THE DESTINATION and checked against the
  manifest again: a store that altered or cut the bytes on the way is caught there.
- Only then is the manifest written, last and with the source's exact bytes, so a copy cut
  short leaves a folder without a manifest, which every command treats as incomplete.

The copy keeps the layout, `<prefix><table>/<backup folder>/`, so `list`, `--latest-of`,
`verify` and `restore` work on it as on the original. A destination that already holds a
complete backup under that folder is never overwritten: the same backup there is verified
and reported as such, a different one refused.
"""

import hashlib
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from datetime import datetime

from ledger_backup import layout
from ledger_backup.catalog import latest_backup
from ledger_backup.errors import CorruptBackup, InvalidRequest
from ledger_backup.manifest import DataFile, Manifest
from ledger_backup.reporting import ProgressListener
from ledger_backup.storage.stores import BackupStore

__all__ = ["CHECKING_COPY", "COPYING", "CopyResult", "copy_backup", "copy_latest"]

COPYING = "copying"  # progress stages, counted in the items of the files done
CHECKING_COPY = "checking the copy"
_CHUNK = 1024 * 1024


@dataclass(frozen=True)
class CopyResult:
    """What a copy did: `copied`, or `identical` when the destination held this backup already."""

    status: str
    source: str  # the source's manifest, as a user would paste it
    destination: str  # the destination's manifest
    files: int  # data files, each verified at the destination
    bytes: int  # the data files' bytes, plus the manifest's
    items: int
    verified: bool  # every file's sha256 and size checked at the destination

    def to_json(self) -> dict[str, object]:
        return asdict(self)


@dataclass(frozen=True)
class _Checked:
    size: int
    sha256: str


def copy_latest(
    source: BackupStore,
    prefix: str,
    table_name: str,
    destination: BackupStore,
    destination_prefix: str,
    *,
    on_progress: ProgressListener | None = None,
) -> CopyResult:
    """Copy the newest complete backup of `table_name` under `prefix` (see `copy_backup`)."""
    backup = latest_backup(source, prefix, table_name)
    return copy_backup(source, backup.manifest_key, destination, destination_prefix, on_progress=on_progress)


def copy_backup(
    source: BackupStore,
    key: str,
    destination: BackupStore,
    destination_prefix: str,
    *,
    on_progress: ProgressListener | None = None,
) -> CopyResult:
    """Copy the backup that `key` names (its folder or manifest) under `destination_prefix`, verified.

    Raises CorruptBackup when the source's bytes, or the bytes read back at the destination,
    disagree with the manifest (the destination's manifest is then not written), and
    InvalidRequest when the destination holds another complete backup in that folder.
    """
    folder = layout.folder_of(key)
    manifest_key = layout.manifest_key(folder)
    manifest_bytes = source.get(manifest_key)  # BackupNotFound when there is none
    manifest = Manifest.from_json_bytes(manifest_bytes, source.location(manifest_key))
    files = [_checked_key(f, source.location(manifest_key)) for f in manifest.files]
    name = _folder_name(source, folder, manifest)
    target = f"{layout.table_folder(destination_prefix, manifest.table_name)}{name}/"
    target_manifest = layout.manifest_key(target)

    def result(status: str) -> CopyResult:
        return CopyResult(
            status=status,
            source=source.location(manifest_key),
            destination=destination.location(target_manifest),
            files=len(files),
            bytes=manifest.compressed_bytes + len(manifest_bytes),
            items=manifest.item_count,
            verified=True,
        )

    if destination.exists(target_manifest):
        _same_manifest(destination, target_manifest, manifest_bytes, source.location(manifest_key))
        _check_copies(destination, target, files, on_progress)
        return result("identical")
    _begin(on_progress, COPYING, manifest.item_count)
    for file in files:
        _copy_file(source, f"{folder}{file.key}", destination, f"{target}{file.key}", file)
        _advance(on_progress, file.item_count)
    _check_copies(destination, target, files, on_progress)
    try:
        destination.put_new(target_manifest, manifest_bytes)  # last: the copy is complete from here
    except FileExistsError:  # another copy of the same backup finished first: it must be this one
        _same_manifest(destination, target_manifest, manifest_bytes, source.location(manifest_key))
    if destination.get(target_manifest) != manifest_bytes:
        raise CorruptBackup(
            f"{destination.location(target_manifest)} does not read back as the manifest written: "
            "the destination altered it; delete that folder and copy again, or copy elsewhere"
        )
    return result("copied")


def _folder_name(source: BackupStore, folder: str, manifest: Manifest) -> str:
    """The backup folder's own name (its UTC timestamp), else one made from the manifest's start time.

    The name comes from the folder's location, since a local backup folder may be the store's
    root (`copy ./data/ledger/<timestamp> ...`); a root given as `.` falls back to the start time.
    """
    name = source.location(folder).replace("\\", "/").rstrip("/").rpartition("/")[2]
    if name in ("", ".", ".."):
        name = layout.folder_timestamp(datetime.fromisoformat(manifest.started_at))
    return name


def _checked_key(file: DataFile, where: str) -> DataFile:
    """A data file's key stays inside its backup folder, whatever the manifest says."""
    parts = file.key.split("/")
    if not file.key or file.key.startswith("/") or ".." in parts or "" in parts or "\\" in file.key:
        raise CorruptBackup(f"{where} lists a data file {file.key!r} outside its backup folder")
    return file


def _same_manifest(destination: BackupStore, key: str, manifest_bytes: bytes, source: str) -> None:
    if destination.get(key) != manifest_bytes:
        raise InvalidRequest(
            f"{destination.location(key)} is a different backup than {source}: a copy never overwrites "
            "a complete backup; copy to another destination, or delete that backup there first"
        )


def _copy_file(
    source: BackupStore, source_key: str, destination: BackupStore, destination_key: str, file: DataFile
) -> None:
    """Stream one data file across, hashing it on the way; committed only if the manifest agrees."""
    upload = destination.open_upload(destination_key)
    try:
        with source.open_read(source_key) as stream:
            checked = _hashed(iter(lambda: stream.read(_CHUNK), b""), upload.write)
        _check(file, checked, f"{source.location(source_key)}: checksum mismatch", "the source holds")
        upload.commit()
    except BaseException:
        upload.abort()
        raise


def _check_copies(
    destination: BackupStore, folder: str, files: list[DataFile], on_progress: ProgressListener | None
) -> None:
    """Read every copied file back at the destination: its sha256 and size must be the manifest's."""
    _begin(on_progress, CHECKING_COPY, sum(f.item_count for f in files))
    for file in files:
        key = f"{folder}{file.key}"
        with destination.open_read(key) as stream:
            checked = _hashed(iter(lambda: stream.read(_CHUNK), b""), None)
        _check(
            file,
            checked,
            f"the copy {destination.location(key)} does not match the manifest (the destination's manifest "
            "was not written, so the copy is incomplete; copy again or to another destination)",
            "the copy holds",
        )
        _advance(on_progress, file.item_count)


def _hashed(chunks: Iterator[bytes], write: "Callable[[bytes], object] | None") -> _Checked:
    """The chunks' size and sha256, each chunk handed to `write` (when given) as it passes."""
    digest = hashlib.sha256()
    size = 0
    for chunk in chunks:
        digest.update(chunk)
        size += len(chunk)
        if write is not None:
            write(chunk)
    return _Checked(size, digest.hexdigest())


def _check(file: DataFile, checked: _Checked, problem: str, holds: str) -> None:
    if (checked.size, checked.sha256) != (file.compressed_bytes, file.sha256):
        raise CorruptBackup(
            f"{problem}: the manifest says {file.compressed_bytes} bytes sha256 {file.sha256}, "
            f"{holds} {checked.size} bytes sha256 {checked.sha256}"
        )


def _begin(on_progress: ProgressListener | None, stage: str, total: int) -> None:
    if on_progress is not None:
        on_progress.begin(stage, total)


def _advance(on_progress: ProgressListener | None, items: int) -> None:
    if on_progress is not None:
        on_progress.advance(items)
