"""This tool's own data files, read through the shared stream stack and checked against the manifest."""

import gzip
import hashlib
from collections.abc import Generator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

import pytest

from devtools.edge_items import edge_items
from devtools.ledger_items import ledger_items
from ledger_backup import layout
from ledger_backup.backup.data_files import DataFileWriter
from ledger_backup.codec import encode_line
from ledger_backup.errors import BackupNotFound, CorruptBackup
from ledger_backup.manifest import DataFile, Manifest
from ledger_backup.restore.verify import verify_source
from ledger_backup.schema import TableSchema
from ledger_backup.sources import ReadMeter, SourceKind, open_source
from ledger_backup.sources.base import ItemLines
from ledger_backup.sources.ledger import LedgerPart, read_lines
from ledger_backup.storage.stores import LocalStore

ITEMS: list[dict[str, Any]] = edge_items() + list(ledger_items(40))
FOLDER = layout.backup_folder("backups/", "ledger", datetime(2026, 2, 14, tzinfo=UTC))
KEY = "data/segment-0000-part-0000.json.gz"
SCHEMA = TableSchema(
    key_schema=[{"AttributeName": "pk", "KeyType": "HASH"}],
    attribute_definitions=[{"AttributeName": "pk", "AttributeType": "S"}],
)


def write_part(store: LocalStore, items: list[dict[str, Any]]) -> DataFile:
    writer = DataFileWriter(store, FOLDER, KEY, compress_level=3)
    writer.write_lines("".join(encode_line(item) + "\n" for item in items), len(items))
    return writer.finish()


def put_raw(store: LocalStore, raw: bytes, item_count: int) -> DataFile:
    """Store `raw` as the data file with a manifest entry that matches it byte for byte."""
    store.put(FOLDER + KEY, raw)
    return DataFile(KEY, item_count, len(raw), len(gzip.decompress(raw)), hashlib.sha256(raw).hexdigest())


def write_manifest(store: LocalStore, entry: DataFile) -> str:
    manifest = Manifest(
        table_name="ledger",
        table_arn="arn:aws:dynamodb:us-east-1:123456789012:table/ledger",
        schema=SCHEMA,
        started_at="2026-02-14T00:00:00+00:00",
        finished_at="2026-02-14T00:00:00+00:00",
        total_segments=1,
        files=[entry],
    )
    store.put(layout.manifest_key(FOLDER), manifest.to_json_bytes())
    return layout.manifest_key(FOLDER)


@pytest.fixture
def store(tmp_path: Path) -> LocalStore:
    return LocalStore(tmp_path)


def test_good_file_reads_back_exactly_with_its_lines(store: LocalStore, tmp_path: Path) -> None:
    entry = write_part(store, ITEMS)
    part = LedgerPart(store, FOLDER, entry)
    meter = ReadMeter()
    entries = list(part.entries(meter))
    assert [item for item, _ in entries] == ITEMS  # binary as bytes, 38-digit numbers as text
    assert [line for _, line in entries] == [(encode_line(item) + "\n").encode() for item in ITEMS]
    assert meter.object_bytes == (tmp_path / FOLDER / KEY).stat().st_size == entry.compressed_bytes
    assert meter.json_bytes == entry.uncompressed_bytes
    assert list(part.items()) == ITEMS  # re-readable, same order
    assert part.location == str(tmp_path / FOLDER / KEY)
    assert part.expected_items == len(ITEMS)


def test_good_backup_verifies_through_open_source(store: LocalStore) -> None:
    manifest_key = write_manifest(store, write_part(store, ITEMS))
    source = open_source(store, manifest_key)
    assert source.kind == SourceKind.LEDGER_BACKUP
    report = verify_source(source)
    assert report.ok, report.problems
    assert (report.item_count, report.expected_items) == (len(ITEMS), len(ITEMS))
    assert "SHA-256" in report.integrity


def test_raw_lines_are_the_stored_lines(store: LocalStore) -> None:
    entry = write_part(store, ITEMS[:5])
    lines = [(encode_line(item) + "\n").encode() for item in ITEMS[:5]]
    assert list(read_lines(store, FOLDER, entry)) == lines


def test_item_lines_are_the_stored_lines_and_keep_the_checks(store: LocalStore) -> None:
    entry = write_part(store, ITEMS[:5])
    part = LedgerPart(store, FOLDER, entry)
    assert isinstance(part, ItemLines)
    assert list(part.item_lines()) == [(encode_line(item) + "\n").encode() for item in ITEMS[:5]]
    short = LedgerPart(store, FOLDER, replace(entry, item_count=6))
    with pytest.raises(CorruptBackup, match="6"):
        list(short.item_lines())


def test_a_line_with_more_than_its_item_is_read_but_not_spliced(store: LocalStore) -> None:
    raw = gzip.compress(b'{"Item":{"pk":{"S":"a"}},"Extra":1}\n{"Item":{"pk":{"S":"b"}}}\n')
    entries = list(LedgerPart(store, FOLDER, put_raw(store, raw, 2)).entries())
    assert entries == [({"pk": {"S": "a"}}, None), ({"pk": {"S": "b"}}, b'{"Item":{"pk":{"S":"b"}}}\n')]


def test_flipped_byte_is_refused_and_named(store: LocalStore) -> None:
    entry = write_part(store, ITEMS)
    path = store.root / FOLDER / KEY
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2] ^= 0x01
    path.write_bytes(bytes(raw))
    with pytest.raises(CorruptBackup) as caught:
        list(LedgerPart(store, FOLDER, entry).items())
    # This byte garbles the deflate output without breaking it: the garbled line is refused as it is
    # read (gzip's CRC-32 would have refused the file at its end).
    assert str(caught.value).startswith(f"{path}, line 23: Expecting ',' delimiter")


def test_changed_content_under_a_valid_gzip_is_a_checksum_mismatch(store: LocalStore) -> None:
    entry = write_part(store, ITEMS)
    path = store.root / FOLDER / KEY
    lines = gzip.decompress(path.read_bytes())
    tampered = lines.replace(b'"S":"v3"', b'"S":"v4"', 1)
    assert tampered != lines
    path.write_bytes(gzip.compress(tampered))
    with pytest.raises(CorruptBackup) as caught:
        list(LedgerPart(store, FOLDER, entry).items())
    size = path.stat().st_size
    assert str(caught.value) == (
        f"{path}: checksum mismatch: manifest says {entry.compressed_bytes} bytes sha256 {entry.sha256}, "
        f"the object has {size} bytes sha256 {hashlib.sha256(path.read_bytes()).hexdigest()}"
    )


def test_truncated_file_is_refused(store: LocalStore) -> None:
    entry = write_part(store, ITEMS)
    path = store.root / FOLDER / KEY
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(
        CorruptBackup, match=r": the gzip stream is damaged or truncated \(Compressed file ended"
    ):
        list(LedgerPart(store, FOLDER, entry).items())


def test_missing_last_newline_is_a_cut_off_file(store: LocalStore) -> None:
    """Even when the manifest agrees with the object: our lines always end in a newline."""
    text = "".join(encode_line(item) + "\n" for item in ITEMS).removesuffix("\n")
    entry = put_raw(store, gzip.compress(text.encode()), len(ITEMS))
    read: list[dict[str, Any]] = []
    with pytest.raises(
        CorruptBackup, match=r"json\.gz: last line is cut off \(no newline\): the file is truncated$"
    ):
        read.extend(LedgerPart(store, FOLDER, entry).items())
    assert read == ITEMS[:-1]  # the cut-off line is never handed out


def test_wrong_count_is_refused_after_the_checksum_passes(store: LocalStore) -> None:
    entry = write_part(store, ITEMS)
    wrong = DataFile(
        entry.key, len(ITEMS) + 1, entry.compressed_bytes, entry.uncompressed_bytes, entry.sha256
    )
    meter = ReadMeter()
    with pytest.raises(
        CorruptBackup, match=rf"json\.gz: holds {len(ITEMS)} items but the manifest lists {len(ITEMS) + 1}$"
    ):
        list(LedgerPart(store, FOLDER, wrong).items(meter))
    assert (meter.object_bytes, meter.json_bytes) == (0, 0)  # a part is counted once it passed


def test_object_that_is_not_gzip_is_damage_not_a_plain_file(store: LocalStore) -> None:
    text = "".join(encode_line(item) + "\n" for item in ITEMS[:3]).encode()
    store.put(FOLDER + KEY, text)
    entry = DataFile(KEY, 3, len(text), len(text), hashlib.sha256(text).hexdigest())
    with pytest.raises(
        CorruptBackup, match=r"json\.gz: the gzip stream is damaged or truncated \(Not a gzipped"
    ):
        list(LedgerPart(store, FOLDER, entry).items())


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b'{"Item":{"pk":{"S":"a"}}}\n\n', r"json\.gz, line 2: Expecting value"),  # no blank lines in ours
        (b'{"Item":{"pk":{"S":"caf\xe9"}}}\n', r"json\.gz, line 1: 'utf-8' codec can't decode byte 0xe9"),
        (b'{"Item":{"pk":{"S":"a"}}}\n{"Item":[]}\n', r'json\.gz, line 2: line is not of the form \{"Item"'),
    ],
)
def test_bad_lines_are_named_by_number(store: LocalStore, content: bytes, message: str) -> None:
    entry = put_raw(store, gzip.compress(content), 2)
    with pytest.raises(CorruptBackup, match=message):
        list(LedgerPart(store, FOLDER, entry).items())


def test_missing_file_is_named(store: LocalStore) -> None:
    entry = DataFile("data/gone.json.gz", 1, 1, 1, "00")
    with pytest.raises(BackupNotFound, match=r"gone\.json\.gz"):
        list(LedgerPart(store, FOLDER, entry).items())


class TrackingStore(LocalStore):
    """Remembers every stream it opened."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.opened: list[BinaryIO] = []

    def open_read(self, key: str) -> BinaryIO:
        stream = super().open_read(key)
        self.opened.append(stream)
        return stream


def test_a_read_that_stops_early_closes_the_object(tmp_path: Path) -> None:
    store = TrackingStore(tmp_path)
    entry = write_part(store, ITEMS)
    entries = LedgerPart(store, FOLDER, entry).entries()
    assert isinstance(entries, Generator)
    assert store.opened == []  # nothing is opened before the first item is asked for
    next(entries)
    entries.close()  # what a restore does when it must continue in another invocation
    assert len(store.opened) == 1
    assert store.opened[0].closed
    assert list(LedgerPart(store, FOLDER, entry).items()) == ITEMS
    assert all(stream.closed for stream in store.opened)
