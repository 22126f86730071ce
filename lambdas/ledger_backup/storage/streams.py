"""Reading one stored object as a stream: count and hash its bytes, see through gzip, name failures.

Gzip is recognised by its magic bytes, not by the object's name: the runbook's files were
sometimes compressed after the fact and not renamed, or renamed and not compressed.
"""

import gzip
import io
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, BinaryIO

import ijson

from ledger_backup.errors import CorruptBackup

if TYPE_CHECKING:
    from hashlib import _Hash

GZIP_MAGIC = b"\x1f\x8b"
_BUFFER = 1024 * 1024


class ObjectReader(io.RawIOBase):
    """The raw bytes of one object, read once, counted and optionally hashed on the way."""

    def __init__(self, raw: BinaryIO, digest: "_Hash | None" = None) -> None:
        super().__init__()
        self._raw = raw
        self.digest = digest
        self.size = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: "memoryview | bytearray") -> int:  # type: ignore[override]
        data = self._raw.read(len(buffer))
        count = len(data)
        buffer[:count] = data
        self.size += count
        if self.digest is not None:
            self.digest.update(data)
        return count

    def drain(self) -> None:
        """Read to the end, so that size and digest describe the whole object."""
        while self.read(_BUFFER):
            pass

    def close(self) -> None:
        if not self.closed:
            self._raw.close()
        super().close()


class ContentStream:
    """An object's content, decompressed when it is gzip, with a count of the content's bytes."""

    def __init__(self, reader: ObjectReader) -> None:
        buffered = io.BufferedReader(reader, _BUFFER)
        self.compressed = buffered.peek(len(GZIP_MAGIC))[: len(GZIP_MAGIC)] == GZIP_MAGIC
        self._stream: BinaryIO = (
            gzip.GzipFile(fileobj=buffered, mode="rb") if self.compressed else buffered  # type: ignore[assignment]
        )
        self.size = 0

    def read(self, size: int = -1) -> bytes:
        data = self._stream.read(size)
        self.size += len(data)
        return data

    def __iter__(self) -> Iterator[bytes]:
        for line in self._stream:
            self.size += len(line)
            yield line


def json_problem(error: ijson.JSONError) -> str:
    """The parser's message without the snippet of the document it quotes (which may be data)."""
    message = error.args[0] if error.args else ""
    if isinstance(message, bytes):
        message = message.decode("utf-8", "replace")
    return str(message).strip().splitlines()[0] if str(message).strip() else type(error).__name__


def is_truncation(error: ijson.JSONError) -> bool:
    """yajl reports every error as "incomplete"; only "premature EOF" means the text just stops."""
    return "premature EOF" in json_problem(error)


@contextmanager
def reading(location: str) -> Iterator[None]:
    """Turn what gzip and the JSON parser raise on damaged input into one CorruptBackup naming it."""
    try:
        yield
    except ijson.JSONError as exc:
        if is_truncation(exc):
            raise CorruptBackup(f"{location}: the JSON ends early, so the file is truncated") from exc
        raise CorruptBackup(f"{location}: not valid JSON ({json_problem(exc)})") from exc
    except UnicodeDecodeError as exc:
        raise CorruptBackup(f"{location}: not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
    except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
        raise CorruptBackup(f"{location}: the gzip stream is damaged or truncated ({exc})") from exc
