"""`{"Item": ...}` line files, the format this tool's data files and DynamoDB's exports share.

Both are read by one loop over the shared stream stack (storage/streams.py); the two formats
differ only in how strict their lines are (`LineFormat`) and in what their records promise
(`Expected`). The loop is the hot path of a restore, which reads every file twice (verify,
then write): it does the least per line, and the checks that need the whole object run once
at its end.
"""

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TypeVar

from ledger_backup.codec import decode_stored_line
from ledger_backup.errors import CorruptBackup
from ledger_backup.sources.base import ReadMeter, StoredItem
from ledger_backup.storage.stores import BackupStore
from ledger_backup.storage.streams import (
    ContentStream,
    Expected,
    check_read,
    line_too_long,
    open_object,
    reading,
)

T = TypeVar("T")


@dataclass(frozen=True)
class LineFormat:
    """How strictly a kind writes its lines."""

    whole_lines: bool  # every line ends in a newline, so one that does not means the file is cut off
    blank_lines: bool  # blank lines may appear; they hold no item
    gzip_only: bool  # the format always compresses, so content that is not gzip is damage


LEDGER_LINES = LineFormat(whole_lines=True, blank_lines=False, gzip_only=True)
EXPORT_LINES = LineFormat(whole_lines=False, blank_lines=True, gzip_only=False)


def decoded_lines(
    store: BackupStore,
    key: str,
    expected: Expected,
    line_format: LineFormat,
    *,
    decode: Callable[[bytes], T],
    meter: ReadMeter | None = None,
) -> Iterator[T]:
    """Each line of the object through `decode`; then the object checked against `expected`.

    `decode` raises ValueError on a line it refuses (named by its number among the lines that
    hold items); only such a line is looked at again to see whether it is a blank one to skip.
    The meter counts the object once it has passed its checks.
    """
    location = store.location(key)
    whole_lines, blank_lines = line_format.whole_lines, line_format.blank_lines
    reader = open_object(store, key, expected)
    seen = 0
    try:
        with reading(location):
            content = ContentStream(reader, gzip_only=line_format.gzip_only)
            for piece in content.lines():
                # A piece without its newline is a long line's start, or the file's last line.
                line = piece if piece.endswith(b"\n") else content.whole_line(piece)
                if line is None:
                    raise line_too_long(location, seen + 1)
                if whole_lines and not line.endswith(b"\n"):
                    raise CorruptBackup(
                        f"{location}: last line is cut off (no newline): the file is truncated"
                    )
                try:
                    decoded = decode(line)
                except ValueError as exc:
                    if blank_lines and not line.strip():
                        continue
                    raise CorruptBackup(f"{location}, line {seen + 1}: {exc}") from exc
                seen += 1
                yield decoded
            reader.drain()
            content_bytes = content.size
    finally:
        reader.close()
    check_read(location, expected, reader, seen)
    if meter is not None:
        meter.object_bytes += reader.size
        meter.json_bytes += content_bytes


def stored_lines(
    store: BackupStore, key: str, expected: Expected, line_format: LineFormat, meter: ReadMeter | None = None
) -> Iterator[StoredItem]:
    """The object's items, each with its line when that is a PutRequest (see codec.decode_stored_line)."""
    return decoded_lines(store, key, expected, line_format, decode=decode_stored_line, meter=meter)


def item_lines(
    store: BackupStore, key: str, expected: Expected, line_format: LineFormat, meter: ReadMeter | None = None
) -> Iterator[bytes]:
    """The object's item lines as they are stored, not parsed; the same checks once it is read through.

    For a second reading of an object a verify pass has already proved (see ItemLines): blank
    lines are skipped as `stored_lines` skips them, so positions count the same items.
    """
    return decoded_lines(store, key, expected, line_format, decode=_item_line, meter=meter)


def _item_line(line: bytes) -> bytes:
    if not line or line.isspace():
        raise ValueError("a blank line holds no item")
    return line
