"""Where backups are kept: an S3 bucket (the service) or a local folder (the CLI's file workflow).

Both present the same small interface, so backup, restore and verify never care which it is.
Uploads are all-or-nothing: an upload that is not committed leaves no object behind.
"""

import io
import os
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, Protocol

from botocore.exceptions import ClientError

from ledger_backup.aws.errors import error_code
from ledger_backup.errors import BackupNotFound, DeleteRefused
from ledger_backup.storage.s3_download import ResumingBody
from ledger_backup.storage.s3_upload import S3MultipartUpload

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import ObjectLockConfigurationTypeDef


@dataclass(frozen=True)
class ObjectLock:
    """What S3 Object Lock holds of a backup: the latest retain-until of its objects, or a legal hold."""

    until: datetime | None = None
    legal_hold: bool = False

    def holds_at(self, now: datetime) -> bool:
        return self.legal_hold or (self.until is not None and self.until > now)

    def describe(self) -> str:
        parts = []
        if self.until is not None:
            parts.append(f"locked until {self.until.astimezone(UTC):%Y-%m-%dT%H:%M:%SZ}")
        if self.legal_hold:
            parts.append("under a legal hold")
        return " and ".join(parts) + ", not deleted yet"


class Upload(Protocol):
    """A write-only byte sink that becomes visible only when committed."""

    def write(self, data: bytes) -> int: ...
    def flush(self) -> None: ...
    def commit(self) -> None: ...
    def abort(self) -> None: ...


class BackupStore(Protocol):
    """Keys are '/'-separated, like S3 keys, in both implementations."""

    def location(self, key: str) -> str:
        """A name for the key that a user can paste (s3://bucket/key or a path)."""
        ...

    def open_upload(self, key: str) -> Upload: ...
    def put(self, key: str, data: bytes) -> None: ...
    def put_new(self, key: str, data: bytes) -> None:
        """Write `key` only if it does not exist yet (FileExistsError otherwise)."""
        ...

    def get(self, key: str) -> bytes: ...
    def open_read(self, key: str) -> BinaryIO: ...
    def exists(self, key: str) -> bool: ...
    def list_keys(self, prefix: str) -> Iterator[str]: ...
    def delete(self, keys: Iterable[str]) -> None: ...


def _is_missing(error: ClientError) -> bool:
    return error_code(error) in ("NoSuchKey", "404", "NotFound")


class S3Store:
    """Backups in one S3 bucket."""

    def __init__(self, client: "S3Client", bucket: str, part_size: int = 8 * 1024 * 1024) -> None:
        self.client = client
        self.bucket = bucket
        self.part_size = part_size
        self._lock_default: object = _UNKNOWN  # the bucket's Object Lock default, asked at first need

    def location(self, key: str) -> str:
        return f"s3://{self.bucket}/{key}"

    def open_upload(self, key: str) -> Upload:
        return S3MultipartUpload(self.client, self.bucket, key, self.part_size)

    def put(self, key: str, data: bytes) -> None:
        self.client.put_object(Bucket=self.bucket, Key=key, Body=data)

    def put_new(self, key: str, data: bytes) -> None:
        try:
            self.client.put_object(Bucket=self.bucket, Key=key, Body=data, IfNoneMatch="*")
        except ClientError as exc:
            if error_code(exc) in (
                "PreconditionFailed",
                "ConditionalRequestConflict",
            ):
                raise FileExistsError(self.location(key)) from exc
            raise

    def get(self, key: str) -> bytes:
        return self.open_read(key).read()

    def open_read(self, key: str) -> BinaryIO:
        try:
            response = self.client.get_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if _is_missing(exc):
                raise BackupNotFound(f"no backup object at {self.location(key)}") from exc
            raise
        return io.BufferedReader(
            ResumingBody(self.client, self.bucket, key, response), buffer_size=1024 * 1024
        )

    def exists(self, key: str) -> bool:
        try:
            self.client.head_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if _is_missing(exc):
                return False
            raise
        return True

    def list_keys(self, prefix: str) -> Iterator[str]:
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix):
            for entry in page.get("Contents", []):
                yield entry["Key"]

    def delete(self, keys: Iterable[str]) -> None:
        batch: list[str] = []
        for key in keys:
            batch.append(key)
            if len(batch) == 1000:  # DeleteObjects' limit
                self._delete_batch(batch)
                batch = []
        if batch:
            self._delete_batch(batch)

    def _delete_batch(self, keys: list[str]) -> None:
        """One DeleteObjects; the keys S3 refused (its answer is 200 even then) raise DeleteRefused."""
        response = self.client.delete_objects(
            Bucket=self.bucket, Delete={"Objects": [{"Key": k} for k in keys], "Quiet": True}
        )
        refused = response.get("Errors", [])
        if refused:
            first = refused[0]
            raise DeleteRefused(
                f"S3 refused to delete {len(refused)} of {len(keys)} objects, e.g. "
                f"{self.location(first.get('Key', '?'))}: {first.get('Code')}: {first.get('Message')}; "
                "check the role's s3:DeleteObject permission and the bucket policy"
            )

    def object_lock(self, key: str) -> ObjectLock | None:
        """What S3 Object Lock holds of `key`'s current version; None in a bucket without Object Lock.

        HeadObject names a version's retention and legal hold only to a caller allowed
        s3:GetObjectRetention and s3:GetObjectLegalHold; without them the headers are simply
        missing. So where the bucket has a default retention, the object's LastModified plus that
        period counts too (S3 gives every new version the default), whichever ends later: a missing
        permission cannot make a locked backup look free.
        """
        default = self._default_retention()
        if default is None:
            return None
        head = self.client.head_object(Bucket=self.bucket, Key=key)
        untils = [head["ObjectLockRetainUntilDate"]] if "ObjectLockRetainUntilDate" in head else []
        if default:
            untils.append(head["LastModified"] + default)
        until = max(untils) if untils else None
        return ObjectLock(until=until, legal_hold=head.get("ObjectLockLegalHoldStatus") == "ON")

    def _default_retention(self) -> timedelta | None:
        """The bucket's default retention (zero without a rule); None without Object Lock. Asked once."""
        if self._lock_default is _UNKNOWN:
            try:
                configuration = self.client.get_object_lock_configuration(Bucket=self.bucket)
            except ClientError as exc:
                if error_code(exc) != "ObjectLockConfigurationNotFoundError":
                    raise
                self._lock_default = None
            else:
                self._lock_default = _retention_period(configuration.get("ObjectLockConfiguration", {}))
        return self._lock_default  # type: ignore[return-value]


_UNKNOWN = object()


def _retention_period(configuration: "ObjectLockConfigurationTypeDef") -> timedelta | None:
    """A bucket's DefaultRetention as a period (a year counted as 366 days, never too short)."""
    if configuration.get("ObjectLockEnabled") != "Enabled":
        return None
    retention = configuration.get("Rule", {}).get("DefaultRetention", {})
    return timedelta(days=retention.get("Days", 0) + 366 * retention.get("Years", 0))


def _partial_path(path: Path) -> Path:
    """A hidden file beside `path`, of its own for each writer (list_keys skips hidden names)."""
    return path.with_name(f".{path.name}.{uuid.uuid4().hex}.partial")


class _LocalUpload:
    """Writes to a hidden temporary file and renames it into place on commit.

    The rename (os.replace, in the same folder) is atomic: a reader sees the old file or the new
    one, whole, never a cut-off one, and two writers of one key each write their own temp file.
    """

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._final = path
        self._partial = _partial_path(path)
        self._file = self._partial.open("wb")

    def write(self, data: bytes) -> int:
        return self._file.write(data)

    def flush(self) -> None:
        self._file.flush()

    def commit(self) -> None:
        self._file.close()
        self._partial.replace(self._final)

    def abort(self) -> None:
        self._file.close()
        self._partial.unlink(missing_ok=True)


class LocalStore:
    """Backups in a local folder, with the same layout as in S3."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if not path.is_relative_to(self.root.resolve()):
            raise ValueError(f"key {key!r} escapes {self.root}")
        return path

    def location(self, key: str) -> str:
        return str(self.root / key)

    def open_upload(self, key: str) -> Upload:
        return _LocalUpload(self._path(key))

    def put(self, key: str, data: bytes) -> None:
        """Whole or not at all (see _LocalUpload): a manifest replaced in place is never half-written."""
        upload = self.open_upload(key)
        try:
            upload.write(data)
            upload.commit()
        except BaseException:
            upload.abort()
            raise

    def put_new(self, key: str, data: bytes) -> None:
        """Whole or not at all: the data goes to a hidden file first, then is linked into place.

        `os.link` fails when the key exists, so two writers cannot both win, and a crash
        mid-write leaves no cut-off manifest or result under the key.
        """
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = _partial_path(path)
        try:
            partial.write_bytes(data)
            os.link(partial, path)
        finally:
            partial.unlink(missing_ok=True)

    def get(self, key: str) -> bytes:
        with self.open_read(key) as file:
            return file.read()

    def open_read(self, key: str) -> BinaryIO:
        try:
            return self._path(key).open("rb")
        except (FileNotFoundError, IsADirectoryError) as exc:
            raise BackupNotFound(f"no backup file at {self.location(key)}") from exc

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def list_keys(self, prefix: str) -> Iterator[str]:
        root = self.root.resolve()
        if not root.is_dir():
            return
        keys = (
            path.relative_to(root).as_posix()
            for path in root.rglob("*")
            if path.is_file() and not path.name.startswith(".")
        )
        # In S3's order (whole keys, UTF-8 bytes), so both stores list alike.
        yield from sorted((k for k in keys if k.startswith(prefix)), key=lambda k: k.encode("utf-8"))

    def delete(self, keys: Iterable[str]) -> None:
        for key in keys:
            self._path(key).unlink(missing_ok=True)
