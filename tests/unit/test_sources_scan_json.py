"""The runbook's scan documents: read exactly as written, streamed, and refused when not whole."""

import gzip
import io
import json
import tracemalloc
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

import pytest

from devtools.edge_items import edge_items
from devtools.ledger_items import ledger_items
from devtools.legacy_formats import scan_json_document, write_scan_json
from ledger_backup.codec import item_from_document
from ledger_backup.errors import CorruptBackup, IncompleteBackup
from ledger_backup.restore.verify import verify_source
from ledger_backup.sources import NotABackup, ReadMeter, Source, SourceKind, open_source
from ledger_backup.storage.stores import LocalStore

ITEMS = edge_items() + list(ledger_items(30))


def read_all(source: Source) -> list[dict[str, Any]]:
    return [item for part in source.parts for item in part.items()]


@pytest.mark.parametrize("compress", [False, True], ids=["plain", "gzip"])
def test_every_item_reads_back_exactly_in_document_order(tmp_path: Path, compress: bool) -> None:
    store = LocalStore(tmp_path)
    write_scan_json(store, "dynamodb_backup_ledger_2026-02-14.json", ITEMS, compress=compress)
    source = open_source(store, "dynamodb_backup_ledger_2026-02-14.json")
    assert (source.kind, source.expected_items, source.schema, len(source.parts)) == (
        SourceKind.SCAN_JSON,
        len(ITEMS),
        None,
        1,
    )
    assert read_all(source) == ITEMS  # B/BS decoded to bytes at every depth, 38-digit numbers as text
    assert read_all(source) == ITEMS  # and the same again: parts are re-readable and ordered


def test_fixture_is_what_the_aws_cli_prints() -> None:
    document = scan_json_document([{"pk": {"S": "k"}, "b": {"B": b"\x00\xff"}, "n": {"N": "1.50"}}])
    assert document.decode() == (
        "{\n"
        '    "Items": [\n'
        "        {\n"
        '            "pk": {\n                "S": "k"\n            },\n'
        '            "b": {\n                "B": "AP8="\n            },\n'
        '            "n": {\n                "N": "1.50"\n            }\n'
        "        }\n"
        "    ],\n"
        '    "Count": 1,\n'
        '    "ScannedCount": 1,\n'
        '    "ConsumedCapacity": null\n'
        "}\n"
    )
    assert len(json.loads(document)["Items"]) == 1  # the runbook's "Verify backup" one-liner


def test_verify_reports_items_bytes_and_what_it_could_check(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    write_scan_json(store, "scan.json.gz", ITEMS, compress=True)
    report = verify_source(open_source(store, "scan.json.gz"))
    assert report.ok
    assert (report.item_count, report.expected_items, report.parts) == (len(ITEMS), len(ITEMS), 1)
    assert report.object_bytes == (tmp_path / "scan.json.gz").stat().st_size
    assert report.json_bytes == len(scan_json_document(ITEMS))
    assert "no checksums" in report.integrity


def test_filtered_scan_and_missing_count_are_reported_not_refused(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    store.put("filtered.json", scan_json_document(ITEMS[:3], scanned_count=10))
    store.put("no-count.json", json.dumps({"Items": [{"pk": {"S": "a"}}]}).encode())
    assert (
        "a filtered scan: it holds 3 of the 10 items scanned" in open_source(store, "filtered.json").notes[0]
    )
    source = open_source(store, "no-count.json")
    assert source.expected_items is None
    assert "no Count" in source.notes[0]
    assert verify_source(source).item_count == 1


def test_cut_off_scan_is_incomplete(tmp_path: Path) -> None:
    """`aws dynamodb scan --max-items N` leaves a NextToken: the file holds part of the table."""
    store = LocalStore(tmp_path)
    document = json.loads(scan_json_document(ITEMS[:2]))
    store.put(
        "partial.json", json.dumps({**document, "NextToken": "eyJFeGNsdXNpdmVTdGFydEtleSI6IG51bGx9"}).encode()
    )
    with pytest.raises(
        IncompleteBackup, match=r"partial\.json holds only part of a table: it ends with NextToken"
    ):
        open_source(store, "partial.json")


def _flip_middle_byte(data: bytes) -> bytes:
    flipped = bytearray(data)
    flipped[len(flipped) // 2] ^= 0x01
    return bytes(flipped)


def damaged(kind: str) -> bytes:
    good = scan_json_document(ITEMS)
    packed = gzip.compress(good, mtime=0)
    versions = {
        "truncated-json": lambda: good[: len(good) // 2],
        "truncated-gzip": lambda: packed[: len(packed) // 2],
        "changed-byte-gzip": lambda: _flip_middle_byte(packed),
        "invalid-json": lambda: good.replace(b'"S": "all-scalar-types"', b'"S": all-scalar-types', 1),
        "count-disagrees": lambda: good.replace(
            f'"Count": {len(ITEMS)}'.encode(), f'"Count": {len(ITEMS) + 1}'.encode()
        ),
        "plain-values": lambda: json.dumps({"Items": [{"book_id": "b-1", "pages": 40}], "Count": 1}).encode(),
        "number-not-string": lambda: json.dumps(
            {"Items": [{"pk": {"S": "a"}, "n": {"M": {"x": {"N": 5}}}}], "Count": 1}
        ).encode(),
    }
    return versions[kind]()


@pytest.mark.parametrize(
    ("kind", "message"),
    [
        ("truncated-json", r"the JSON ends early, so the file is truncated"),
        ("truncated-gzip", r"the gzip stream is damaged or truncated"),
        ("changed-byte-gzip", r"the gzip stream is damaged or truncated|not valid JSON"),
        ("invalid-json", r"not valid JSON \(lexical error: invalid char in json text\.\)"),
        ("count-disagrees", rf"holds {len(ITEMS)} items but its Count says {len(ITEMS) + 1}"),
        ("plain-values", r"item 1: attribute book_id: not a DynamoDB attribute value"),
        ("number-not-string", r"item 1: attribute n\.x: N must be a string, not int"),
    ],
)
def test_damaged_documents_fail_with_one_message(tmp_path: Path, kind: str, message: str) -> None:
    store = LocalStore(tmp_path)
    store.put("scan.json", damaged(kind))
    with pytest.raises(CorruptBackup, match=message) as caught:
        verify_or_raise(store)
    assert str(caught.value).startswith(str(tmp_path / "scan.json"))
    assert "\n" not in str(caught.value)


def verify_or_raise(store: LocalStore) -> None:
    report = verify_source(open_source(store, "scan.json"))  # opening may already refuse it
    if not report.ok:
        assert len(report.problems) == 1
        raise CorruptBackup(report.problems[0])


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b'[{"pk": {"S": "a"}}]', r"is a JSON array, not a backup this tool reads"),
        (
            b'{"TableName": "ledger", "Count": 3}',
            r"is a JSON object with keys TableName, Count, not a backup",
        ),
        (b'{"Items": {"pk": {"S": "a"}}}', r'"Items" is not an array'),
        (b"book_id,artist\nb-1,Someone\n", r"is neither JSON nor gzipped JSON"),
        (gzip.compress(b"\x00\x01binary"), r"is neither JSON nor gzipped JSON"),
        (b"", r"is empty"),
    ],
)
def test_wrong_kind_of_object_is_named(tmp_path: Path, content: bytes, message: str) -> None:
    store = LocalStore(tmp_path)
    store.put("backup.json", content)
    with pytest.raises(NotABackup, match=message):
        open_source(store, "backup.json")


class GeneratedStore(LocalStore):
    """A store whose one object is a large scan document generated on the fly (never held whole)."""

    def __init__(self, root: Path, items: int) -> None:
        super().__init__(root)
        self.items = items
        item = json.dumps(next(iter(ledger_items(1))), indent=4)
        self.item_text = item.replace("\n", "\n        ").encode()

    def exists(self, key: str) -> bool:
        return True

    def open_read(self, key: str) -> BinaryIO:
        return io.BufferedReader(_ChunkStream(self._chunks()))

    def _chunks(self) -> Iterator[bytes]:
        yield b'{\n    "Items": ['
        for n in range(self.items):
            yield (b"," if n else b"") + b"\n        " + self.item_text
        yield f'\n    ],\n    "Count": {self.items},\n    "ScannedCount": {self.items}\n}}\n'.encode()


class _ChunkStream(io.RawIOBase):
    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._left = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: "memoryview | bytearray") -> int:  # type: ignore[override]
        while not self._left:
            chunk = next(self._chunks, None)
            if chunk is None:
                return 0
            self._left = chunk
        count = min(len(buffer), len(self._left))
        buffer[:count] = self._left[:count]
        self._left = self._left[count:]
        return count


def test_large_document_is_streamed_in_constant_memory(tmp_path: Path) -> None:
    store = GeneratedStore(tmp_path, items=600)  # about 10 MB of JSON
    tracemalloc.start()
    try:
        source = open_source(store, "huge.json")
        meter = ReadMeter()
        count = sum(1 for _ in source.parts[0].items(meter))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count == 600
    assert meter.json_bytes > 10_000_000
    assert peak < 5_000_000  # read buffers and one item (measured: 3.2 MB for 8 MB or 67 MB documents)


def test_item_from_document_decodes_binary_only_where_it_is_binary() -> None:
    parsed = json.loads(scan_json_document(edge_items()))["Items"]
    assert [item_from_document(item) for item in parsed] == edge_items()
