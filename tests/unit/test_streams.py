"""The one stream stack every kind of backup is read through: bytes counted and hashed, gzip seen
through by its magic bytes, damage named, and each object held to what its records promise."""

import base64
import gzip
import hashlib
import io
import json
from pathlib import Path

import ijson
import pytest

from ledger_backup.errors import CorruptBackup
from ledger_backup.storage.stores import LocalStore
from ledger_backup.storage.streams import (
    Checksum,
    ContentStream,
    Expected,
    ObjectReader,
    check_read,
    open_object,
    reading,
)

TEXT = b"".join(b'{"Item":{"pk":{"S":"k%d"}}}\n' % n for n in range(2000))


def read_through(
    store: LocalStore, key: str, expected: Expected | None = None, *, gzip_only: bool = False
) -> tuple[ObjectReader, ContentStream, list[bytes]]:
    reader = open_object(store, key, expected)
    try:
        with reading(store.location(key)):
            content = ContentStream(reader, gzip_only=gzip_only)
            lines = list(content)
            reader.drain()
    finally:
        reader.close()
    return reader, content, lines


@pytest.fixture
def store(tmp_path: Path) -> LocalStore:
    return LocalStore(tmp_path)


@pytest.mark.parametrize("compress", [False, True], ids=["plain", "gzip"])
def test_content_is_the_same_whether_gzipped_or_not_whatever_the_name(
    store: LocalStore, compress: bool
) -> None:
    raw = gzip.compress(TEXT, mtime=0) if compress else TEXT
    store.put("renamed.txt", raw)  # the name says nothing: the magic bytes decide
    reader, content, lines = read_through(store, "renamed.txt")
    assert content.compressed is compress
    assert b"".join(lines) == TEXT
    assert len(lines) == 2000
    assert (reader.size, content.size) == (len(raw), len(TEXT))


def test_digest_is_of_the_stored_bytes_not_the_content(store: LocalStore) -> None:
    raw = gzip.compress(TEXT, mtime=0)
    store.put("f.json.gz", raw)
    expected = Expected(checksum=Checksum.sha256_hex(hashlib.sha256(raw).hexdigest()))
    reader, _, _ = read_through(store, "f.json.gz", expected)
    assert reader.digest is not None
    assert reader.digest.hexdigest() == hashlib.sha256(raw).hexdigest() != hashlib.sha256(TEXT).hexdigest()
    check_read("f", expected, reader, 2000)  # nothing to refuse


def test_digest_covers_bytes_the_consumer_did_not_read(store: LocalStore) -> None:
    """A consumer that stops early leaves the rest to drain(): the digest describes the whole object."""
    raw = TEXT * 3  # more than one read buffer
    store.put("f", raw)
    reader = open_object(store, "f", Expected(checksum=Checksum.md5_base64("")))
    content = ContentStream(reader)  # kept: a dropped ContentStream closes its reader
    assert content.read(10) == raw[:10]
    reader.drain()
    reader.close()
    assert reader.size == len(raw)
    assert reader.digest is not None
    assert reader.digest.digest() == hashlib.md5(raw, usedforsecurity=False).digest()


def test_plain_stream_tells_its_position_while_reading(store: LocalStore) -> None:
    store.put("f", TEXT)
    reader = open_object(store, "f")
    content = ContentStream(reader)
    first = next(iter(content))
    assert content.size == len(first)  # what was consumed, not what was buffered ahead
    assert reader.size == len(TEXT)
    reader.close()


def test_checksum_spellings() -> None:
    digest = hashlib.md5(b"abc", usedforsecurity=False)
    assert Checksum.md5_base64("").spell(digest) == base64.b64encode(digest.digest()).decode()
    assert Checksum.sha256_hex("").spell(hashlib.sha256(b"abc")) == hashlib.sha256(b"abc").hexdigest()
    assert Checksum.md5_base64("x").new().name == "md5"


def test_gzip_only_refuses_plain_content(store: LocalStore) -> None:
    store.put("f.json.gz", TEXT)
    with pytest.raises(
        CorruptBackup, match=r"f\.json\.gz: the gzip stream is damaged or truncated \(Not a gzipped"
    ):
        read_through(store, "f.json.gz", gzip_only=True)


def test_empty_object_holds_no_lines(store: LocalStore) -> None:
    store.put("empty", b"")
    for gzip_only in (False, True):
        reader, content, lines = read_through(store, "empty", gzip_only=gzip_only)
        assert (lines, reader.size, content.size) == ([], 0, 0)


@pytest.mark.parametrize("cut", [10, 100, 1000])
def test_truncated_gzip_is_named(store: LocalStore, cut: int) -> None:
    raw = gzip.compress(TEXT, mtime=0)
    store.put("data/f.json.gz", raw[: len(raw) - cut])
    with pytest.raises(CorruptBackup) as caught:
        read_through(store, "data/f.json.gz")
    assert str(caught.value).startswith(
        f"{store.location('data/f.json.gz')}: the gzip stream is damaged or truncated ("
    )


def test_changed_crc_is_named(store: LocalStore) -> None:
    raw = bytearray(gzip.compress(TEXT, mtime=0))
    raw[-8] ^= 0xFF  # the CRC-32 in the trailer
    store.put("f", bytes(raw))
    with pytest.raises(CorruptBackup, match=r"f: the gzip stream is damaged or truncated \(CRC check failed"):
        read_through(store, "f")


def test_invalid_utf8_is_named(store: LocalStore) -> None:
    store.put("f", b'{"a": "caf\xe9"}')
    reader = open_object(store, "f")
    with (
        pytest.raises(CorruptBackup, match=r"f: not UTF-8 text \(invalid continuation byte at byte 10\)"),
        reading(store.location("f")),
    ):
        ContentStream(reader).read().decode("utf-8")
    reader.close()


@pytest.mark.parametrize(
    ("document", "message"),
    [
        (b'{"Items": [{"pk": {"S": "a"}}', r": the JSON ends early, so the file is truncated$"),
        (
            b'{"Items": [{"pk": {"S": a}}]}',
            r": not valid JSON \(lexical error: invalid char in json text\.\)$",
        ),
    ],
)
def test_json_damage_is_named_without_quoting_the_data(
    store: LocalStore, document: bytes, message: str
) -> None:
    store.put("scan.json.gz", gzip.compress(document))
    reader = open_object(store, "scan.json.gz")
    with pytest.raises(CorruptBackup, match=message) as caught, reading(store.location("scan.json.gz")):
        list(ijson.items(ContentStream(reader), "Items.item"))
    reader.close()
    assert str(caught.value).startswith(store.location("scan.json.gz"))
    assert "\n" not in str(caught.value)


def test_other_errors_pass_through_reading() -> None:
    with pytest.raises(KeyError), reading("f"):
        raise KeyError("not damage")
    with pytest.raises(json.JSONDecodeError), reading("f"):  # a ValueError, but not the stream's
        json.loads("{")


def reader_of(data: bytes, checksum: Checksum | None) -> ObjectReader:
    reader = ObjectReader(io.BytesIO(data), checksum.new() if checksum else None)
    reader.drain()
    return reader


def ledger(
    item_count: int | None = None, checksum: Checksum | None = None, size: int | None = None
) -> Expected:
    """As sources.ledger words its manifest's promises."""
    return Expected(item_count, checksum, size, checksum_by="manifest", count_by="the manifest lists")


def export(item_count: int | None = None, checksum: Checksum | None = None) -> Expected:
    """As sources.aws_export words manifest-files.json's promises."""
    return Expected(
        item_count, checksum, checksum_by="manifest-files.json", count_by="manifest-files.json lists"
    )


def test_size_and_sha256_mismatch_message() -> None:
    data = b"the stored object"
    good = hashlib.sha256(data).hexdigest()
    reader = reader_of(data, Checksum.sha256_hex(good))
    check_read("s3://b/k", ledger(2, Checksum.sha256_hex(good), len(data)), reader, 2)
    wrong = ledger(2, Checksum.sha256_hex("ab" * 32), len(data))
    with pytest.raises(CorruptBackup) as caught:
        check_read("s3://b/k", wrong, reader_of(data, wrong.checksum), 2)
    assert str(caught.value) == (
        f"s3://b/k: checksum mismatch: manifest says {len(data)} bytes sha256 {'ab' * 32}, "
        f"the object has {len(data)} bytes sha256 {good}"
    )
    longer = ledger(2, Checksum.sha256_hex(good), len(data) + 1)  # same digest, other size
    with pytest.raises(
        CorruptBackup,
        match=rf"manifest says {len(data) + 1} bytes sha256 {good}, the object has {len(data)} bytes",
    ):
        check_read("s3://b/k", longer, reader_of(data, longer.checksum), 2)


def test_md5_mismatch_message() -> None:
    data = b"an export's data file"
    actual = base64.b64encode(hashlib.md5(data, usedforsecurity=False).digest()).decode()
    expected = export(1, Checksum.md5_base64("1B2M2Y8AsgTpgAmY7PhCfg=="))
    with pytest.raises(CorruptBackup) as caught:
        check_read("s3://b/data/x.json.gz", expected, reader_of(data, expected.checksum), 1)
    assert str(caught.value) == (
        "s3://b/data/x.json.gz: checksum mismatch: manifest-files.json says MD5 1B2M2Y8AsgTpgAmY7PhCfg==, "
        f"the object's {len(data)} bytes have MD5 {actual}"
    )


@pytest.mark.parametrize(
    ("expected", "message"),
    [
        (ledger(item_count=3), "f: holds 2 items but the manifest lists 3"),
        (export(item_count=3), "f: holds 2 items but manifest-files.json lists 3"),
        (Expected(item_count=3, count_by="its Count says"), "f: holds 2 items but its Count says 3"),
    ],
)
def test_count_mismatch_messages(expected: Expected, message: str) -> None:
    with pytest.raises(CorruptBackup) as caught:
        check_read("f", expected, reader_of(b"", None), 2)
    assert str(caught.value) == message


def test_checksum_is_checked_before_the_count() -> None:
    expected = ledger(3, Checksum.sha256_hex("00"))
    with pytest.raises(CorruptBackup, match="checksum mismatch"):
        check_read("f", expected, reader_of(b"x", expected.checksum), 2)


def test_nothing_recorded_nothing_checked() -> None:
    check_read("f", Expected(), reader_of(b"anything", None), 7)
    check_read("f", Expected(item_count=None, count_by="its Count says"), reader_of(b"", None), 7)


def test_reading_names_what_gzip_raises_for_random_damage() -> None:
    """Whatever a changed byte does to a gzip stream, reading it raises CorruptBackup or nothing."""
    raw = gzip.compress(TEXT, mtime=0)
    messages: list[str] = []
    for position in range(10, len(raw), max(1, len(raw) // 50)):
        damaged = bytearray(raw)
        damaged[position] ^= 0x10
        reader = ObjectReader(io.BytesIO(bytes(damaged)))
        try:
            with reading("f"):
                b"".join(ContentStream(reader))
        except CorruptBackup as exc:
            messages.append(str(exc))
    assert messages  # most changes break the deflate stream or its CRC
    assert all(m.startswith("f: the gzip stream is damaged or truncated (") for m in messages), messages
