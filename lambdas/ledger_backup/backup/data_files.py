"""Writing backup data files: gzipped `{"Item": ...}` lines, with the counts and SHA-256 the manifest records.

Writing hashes the compressed bytes as they leave, so the digest describes exactly the
object stored. Reading them back, checked against the manifest, is sources/ledger.py's.
"""

import gzip
import hashlib

from ledger_backup.manifest import DataFile
from ledger_backup.storage.stores import BackupStore, Upload


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
