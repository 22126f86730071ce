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
from functools import partial
from typing import TYPE_CHECKING, BinaryIO

import ijson

from ledger_backup.errors import CorruptBackup
from ledger_backup.item_rules import MAX_ITEM_BYTES
from ledger_backup.storage.stores import BackupStore

if TYPE_CHECKING:
    from hashlib import _Hash

GZIP_MAGIC = b"\x1f\x8b"
_BUFFER = 1024 * 1024  # of the object's bytes
_LINE_BUFFER = 64 * 1024  # of decompressed content: many lines per call, little memory held

# The most JSON text one valid item can take, so that a line (or a scan document's item) longer than
# this is refused after reading this much, instead of being held whole: a small gzip can inflate
# into one line of gigabytes. DynamoDB counts at most MAX_ITEM_BYTES (400 KB, ServiceQuotas.html,
# https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/ServiceQuotas.html) per item,
# names and values, a list or map member 1 byte more (see item_rules.item_size). DynamoDB JSON text
# is longest per counted byte for
#   - a list of one-member string sets {"SS":["\u0001"]}: 18 characters with the comma per 2 counted
#     bytes, 9x; 21 with json.dumps's spaces, 10.5x ({"BOOL":false} is 7.5x, {"NULL":true} 7x);
#   - names of control characters: "\u0001\u0002":{"BOOL":false}, is 29 characters for 3 bytes, and
#     only 1,024 names are that short; longer names tend to 6x (one "\u0001" per byte);
#   - B and BS: base64 is 4 characters per 3 bytes.
# The bound is 12x, rounded up to a whole MiB: 5 MiB. (Every byte of it may be held while a hostile
# line is read, so it is kept near the worst case.) Scan documents' indentation is not counted
# against it (BoundedContent).
_WORST_TEXT_PER_COUNTED_BYTE = 12  # over the worst, 10.5x
MAX_ITEM_TEXT_BYTES = -(-MAX_ITEM_BYTES * _WORST_TEXT_PER_COUNTED_BYTE // 2**20) * 2**20  # 5,242,880
_LINE_PIECE = 1024 * 1024  # lines longer than this are read on piece by piece, up to the bound


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
        return self.lines()

    def lines(self) -> Iterator[bytes]:
        """Its lines; one longer than a piece comes cut, without its newline: see `whole_line`.

        The iterator stays in C: a line costs one readline call and no Python frame.
        """
        return iter(partial(self._stream.readline, _LINE_PIECE), b"")

    def whole_line(self, start: bytes, limit: int = MAX_ITEM_TEXT_BYTES) -> bytes | None:
        """`start`, a line from `lines` without its newline, with the rest of its line.

        None once the line is longer than `limit`: reading stops there, with no more than that held.
        A line that ends the content without a newline comes back without one.
        """
        pieces = [start]
        total = len(start)
        piece = start
        while piece and not piece.endswith(b"\n"):
            if total > limit:
                return None
            piece = self._stream.readline(min(_LINE_PIECE, limit + 1 - total))
            pieces.append(piece)
            total += len(piece)
        return b"".join(pieces) if total <= limit + 1 else None


def line_too_long(location: str, line_number: int) -> CorruptBackup:
    """A line longer than any valid item's JSON: it is refused, not read on (see MAX_ITEM_TEXT_BYTES)."""
    return CorruptBackup(
        f"{location}, line {line_number}: longer than {MAX_ITEM_TEXT_BYTES:,} bytes, "
        "more than any item DynamoDB accepts can take as JSON"
    )


class BoundedContent:
    """A ContentStream for ijson that refuses to read on once one item or token has taken too much.

    ijson holds a whole token (yajl) and ijson.items a whole item in memory, so each read counts
    the bytes since the reader last heard of a boundary, and one that takes them past `limit`
    raises instead. Items are counted without spaces and newlines: the AWS CLI indents by four per
    level, so a deep item's text is mostly indentation, which costs the parser nothing. A string of
    spaces does cost memory, so the shape pass (scan_json.read_summary) also bounds every token,
    spaces included, and adds the length of each string to its item's count; the item pass only
    runs on a document that passed it.
    """

    def __init__(
        self, content: ContentStream, location: str, *, tokens: bool, limit: int = MAX_ITEM_TEXT_BYTES
    ) -> None:
        self._content = content
        self._location = location
        self._tokens = tokens
        self.limit = limit
        self.since_token = 0  # every byte since the last event (when `tokens`)
        self.since_item = 0  # bytes other than spaces and newlines since the last item ended
        self.items = 0  # items ended so far, to name the one that is too long

    @property
    def size(self) -> int:
        return self._content.size

    def item_ended(self, items: int) -> None:
        self.since_item = 0
        self.items = items

    def read(self, size: int = -1) -> bytes:
        data = self._content.read(size)
        count = len(data)
        self.since_item += count - data.count(b" ") - data.count(b"\n")
        self.since_token += count
        if self.since_item > self.limit or (self._tokens and self.since_token > self.limit):
            raise CorruptBackup(
                f"{self._location}, item {self.items + 1}: longer than {self.limit:,} bytes, "
                "more than any item DynamoDB accepts can take as JSON"
            )
        return data


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
