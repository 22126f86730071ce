"""Backup data files: gzipped `{"Item": ...}` lines, with the counts and SHA-256 the manifest records.

Writing hashes the compressed bytes as they leave, so the digest describes exactly the
object stored; reading hashes them as they arrive and refuses a file whose digest, count
or gzip stream disagrees with the manifest.
"""

import gzip
import hashlib
import zlib
from collections.abc import Iterator
from typing import BinaryIO

from ledger_backup.errors import CorruptBackup
from ledger_backup.manifest import DataFile
from ledger_backup.storage.stores import BackupStore, Upload

_READ_CHUNK = 1024 * 1024


class _HashingSink:
    """Counts and hashes what gzip writes before passing it on to the upload."""

    def __init__(self, upload: Upload) -> None:
        self.upload = upload
        self.sha256 = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> int:
        self.sha256.update(data)
        self.size += len(data)
        return self.upload.write(data)

    def flush(self) -> None:
        self.upload.flush()


class DataFileWriter:
    """One data file being written; `finish()` commits it and returns its manifest entry."""

    def __init__(self, store: BackupStore, folder: str, relative_key: str, compress_level: int) -> None:
        self.relative_key = relative_key
        self._upload = store.open_upload(folder + relative_key)
        self._sink = _HashingSink(self._upload)
        self._gzip = gzip.GzipFile(
            filename="", mode="wb", fileobj=self._sink, compresslevel=compress_level, mtime=0
        )
        self.item_count = 0
        self.uncompressed_bytes = 0

    def write_lines(self, text: str, line_count: int) -> None:
        """Append already-encoded lines (each ending in a newline)."""
        data = text.encode("utf-8")
        self._gzip.write(data)
        self.item_count += line_count
        self.uncompressed_bytes += len(data)

    @property
    def compressed_bytes(self) -> int:
        return self._sink.size

    def finish(self) -> DataFile:
        self._gzip.close()
        self._upload.commit()
        return DataFile(
            key=self.relative_key,
            item_count=self.item_count,
            compressed_bytes=self._sink.size,
            uncompressed_bytes=self.uncompressed_bytes,
            sha256=self._sink.sha256.hexdigest(),
        )

    def abort(self) -> None:
        self._upload.abort()


class _HashingSource:
    """Counts and hashes the raw object bytes that gzip reads."""

    def __init__(self, raw: BinaryIO) -> None:
        self.raw = raw
        self.sha256 = hashlib.sha256()
        self.size = 0

    def read(self, size: int = -1) -> bytes:
        data = self.raw.read(size)
        self.sha256.update(data)
        self.size += len(data)
        return data

    def drain(self) -> None:
        while self.read(_READ_CHUNK):
            pass


def read_lines(store: BackupStore, folder: str, entry: DataFile) -> Iterator[bytes]:
    """Yield the file's lines, then check its size, SHA-256 and line count against the manifest.

    The check can only finish at the end of the stream, so a caller that must not act on a
    corrupt file reads it through first (see verify.verify_source).
    """
    where = store.location(folder + entry.key)
    raw = store.open_read(folder + entry.key)
    source = _HashingSource(raw)
    lines = 0
    try:
        with gzip.GzipFile(fileobj=source, mode="rb") as stream:  # type: ignore[call-overload]
            for line in stream:
                if not line.endswith(b"\n"):
                    raise CorruptBackup(f"{where}: last line is cut off (no newline): the file is truncated")
                lines += 1
                yield line
        source.drain()
    except (EOFError, OSError, zlib.error) as exc:
        raise CorruptBackup(f"{where}: the gzip stream is damaged or truncated ({exc})") from exc
    finally:
        raw.close()
    digest = source.sha256.hexdigest()
    if source.size != entry.compressed_bytes or digest != entry.sha256:
        raise CorruptBackup(
            f"{where}: checksum mismatch: manifest says {entry.compressed_bytes} bytes "
            f"sha256 {entry.sha256}, "
            f"the object has {source.size} bytes sha256 {digest}"
        )
    if lines != entry.item_count:
        raise CorruptBackup(f"{where}: holds {lines} items but the manifest lists {entry.item_count}")
