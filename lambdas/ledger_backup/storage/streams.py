"""Reading one stored object: count and hash its bytes, see through gzip, check it, name failures.

Every kind of backup is read through the same stack: `open_object` (an ObjectReader that counts
the object's bytes and hashes them with the checksum its records use) → ContentStream (gzip
or not) → lines or JSON events, inside `reading(location)`, which turns damage into one
CorruptBackup naming the object; once read through, `check_read` holds the object to what its
records promise (`Expected`).

Gzip is recognised by its magic bytes, not by the object's name: the runbook's files were
sometimes compressed after the fact and not renamed, or renamed and not compressed.
"""

import base64
import gzip
import hashlib
import io
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, BinaryIO

import ijson

from ledger_backup.errors import CorruptBackup
from ledger_backup.storage.stores import BackupStore

if TYPE_CHECKING:
    from hashlib import _Hash

GZIP_MAGIC = b"\x1f\x8b"
_BUFFER = 1024 * 1024  # of the object's bytes
_LINE_BUFFER = 64 * 1024  # of decompressed content: many lines per call, little memory held


@dataclass(frozen=True)
class Checksum:
    """A checksum as a format records it: which hash, how messages name it, the recorded value."""

    algorithm: str  # hashlib's name
    label: str  # as messages name it ("sha256", "MD5")
    value: str  # as recorded: hex, or base64 of the digest when `base64` is set
    base64: bool = False

    @classmethod
    def sha256_hex(cls, value: str) -> "Checksum":
        """This tool's manifests: hex SHA-256 of the stored object."""
        return cls("sha256", "sha256", value)

    @classmethod
    def md5_base64(cls, value: str) -> "Checksum":
        """DynamoDB exports' manifest-files.json: base64 MD5 of the stored object."""
        return cls("md5", "MD5", value, base64=True)

    def new(self) -> "_Hash":
        return hashlib.new(self.algorithm, usedforsecurity=False)  # an integrity check, not a secret

    def spell(self, digest: "_Hash") -> str:
        """The digest spelled as the record spells its value."""
        if self.base64:
            return base64.b64encode(digest.digest()).decode("ascii")
        return digest.hexdigest()


@dataclass(frozen=True)
class Expected:
    """What a backup's own records promise about one object; None where the format records nothing.

    `checksum_by` and `count_by` quote the records in messages, so each kind keeps its wording:
    "checksum mismatch: manifest says ...", "holds 3 items but its Count says 4".
    """

    item_count: int | None = None
    checksum: Checksum | None = None
    size: int | None = None  # bytes of the stored object
    checksum_by: str = ""  # e.g. "manifest", "manifest-files.json"
    count_by: str = ""  # e.g. "the manifest lists", "its Count says"


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

    def tell(self) -> int:
        """The bytes read so far (which lets a BufferedReader over it tell its position)."""
        return self.size

    def drain(self) -> None:
        """Read to the end, so that size and digest describe the whole object."""
        while self.read(_BUFFER):
            pass

    def close(self) -> None:
        if not self.closed:
            self._raw.close()
        super().close()


def open_object(store: BackupStore, key: str, expected: Expected | None = None) -> ObjectReader:
    """Open `key` for one read, hashing its bytes with the checksum `expected` will be checked by."""
    checksum = expected.checksum if expected is not None else None
    return ObjectReader(store.open_read(key), checksum.new() if checksum is not None else None)


class _Decompressed(io.RawIOBase):
    """Gzip's output as a raw stream, so that a C BufferedReader splits it into lines.

    Iterating a GzipFile itself costs a Python-level readline call per line; this costs one
    call per buffer.
    """

    def __init__(self, compressed: io.BufferedIOBase) -> None:
        super().__init__()
        self._gzip = gzip.GzipFile(fileobj=compressed, mode="rb")
        self.size = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: "memoryview | bytearray") -> int:  # type: ignore[override]
        count = self._gzip.readinto(buffer)
        self.size += count
        return count

    def tell(self) -> int:
        return self.size


class ContentStream:
    """An object's content, decompressed when it is gzip; iterating it gives its lines.

    Keep it referenced until the reader is drained: its buffers close the reader when collected.
    """

    def __init__(self, reader: ObjectReader, *, gzip_only: bool = False) -> None:
        """`gzip_only`: the format always compresses, so content that is not gzip is damage."""
        buffered = io.BufferedReader(reader, _BUFFER)
        self.compressed = gzip_only or buffered.peek(len(GZIP_MAGIC))[: len(GZIP_MAGIC)] == GZIP_MAGIC
        self._stream = (
            io.BufferedReader(_Decompressed(buffered), _LINE_BUFFER) if self.compressed else buffered
        )

    @property
    def size(self) -> int:
        """The content's bytes read so far (decompressed, when it is gzip)."""
        return self._stream.tell()

    def read(self, size: int = -1) -> bytes:
        return self._stream.read(size)

    def __iter__(self) -> Iterator[bytes]:
        return iter(self._stream)


def check_read(location: str, expected: Expected, reader: ObjectReader, items: int) -> None:
    """Refuse an object, read through, whose size, checksum or item count its records contradict."""
    checksum = expected.checksum
    digest = checksum.spell(reader.digest) if checksum is not None and reader.digest is not None else ""
    if (checksum is not None and digest != checksum.value) or (
        expected.size is not None and reader.size != expected.size
    ):
        raise CorruptBackup(f"{location}: checksum mismatch: {_mismatch(expected, reader.size, digest)}")
    if expected.item_count is not None and items != expected.item_count:
        raise CorruptBackup(f"{location}: holds {items} items but {expected.count_by} {expected.item_count}")


def _mismatch(expected: Expected, size: int, digest: str) -> str:
    checksum = expected.checksum
    said = f" {checksum.label} {checksum.value}" if checksum is not None else ""
    found = f" {checksum.label} {digest}" if checksum is not None else ""
    if expected.size is not None:
        return f"{expected.checksum_by} says {expected.size} bytes{said}, the object has {size} bytes{found}"
    return f"{expected.checksum_by} says{said}, the object's {size} bytes have{found}"


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
