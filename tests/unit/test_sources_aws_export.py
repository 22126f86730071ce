"""DynamoDB "Export to S3" (DYNAMODB_JSON): both manifests cross-checked, every data file by MD5 and count."""

import base64
import gzip
import hashlib
import json
import re
from pathlib import Path
from typing import Any

import pytest

from devtools.edge_items import edge_items
from devtools.ledger_items import ledger_items
from devtools.legacy_formats import write_aws_export
from ledger_backup.errors import CorruptBackup
from ledger_backup.restore.verify import verify_source
from ledger_backup.sources import NotABackup, ReadMeter, Source, SourceKind, open_source
from ledger_backup.sources.aws_export import ExportPart
from ledger_backup.sources.base import ItemLines
from ledger_backup.storage.stores import LocalStore

ITEMS = edge_items() + list(ledger_items(30))


def by_key(items: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {str(next(iter((item.get("pk") or item["book_id"]).values()))): item for item in items}


def read_all(source: Source) -> list[dict[str, Any]]:
    return [item for part in source.parts for item in part.items()]


def data_keys(source: Source) -> list[str]:
    return [part.file.key for part in source.parts if isinstance(part, ExportPart)]


def test_export_reads_every_item_exactly(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    summary_key = write_aws_export(store, ITEMS, prefix="2026-Feb/", files=4)
    assert summary_key.startswith("2026-Feb/AWSDynamoDB/")
    assert summary_key.endswith("/manifest-summary.json")
    source = open_source(store, summary_key)
    assert (source.kind, source.expected_items, source.schema) == (
        SourceKind.DYNAMODB_EXPORT,
        len(ITEMS),
        None,
    )
    assert source.table_name == "jsmith-pipeline-ledger"
    assert len(source.parts) == 4
    items = read_all(source)
    assert len(items) == len(ITEMS)
    assert by_key(items) == by_key(ITEMS)
    assert read_all(source) == items  # the same order every time: manifest order, then line order
    report = verify_source(source)
    assert report.ok, report.problems
    assert report.object_bytes == sum((tmp_path / key).stat().st_size for key in data_keys(source))


def test_export_folder_and_copies_elsewhere_read_the_same(tmp_path: Path) -> None:
    """The manifests name full keys at export time; a copy under another prefix or folder still reads."""
    original = LocalStore(tmp_path / "bucket")
    summary_key = write_aws_export(original, ITEMS, prefix="exports/")
    export_folder = tmp_path / "bucket" / summary_key.removesuffix("manifest-summary.json")
    copy = LocalStore(export_folder)  # e.g. `aws s3 sync s3://bucket/exports/AWSDynamoDB/<id>/ ./export`
    from_folder = open_source(original, summary_key.removesuffix("manifest-summary.json"))
    from_copy = open_source(copy, "manifest-summary.json")
    assert read_all(from_copy) == read_all(from_folder)
    assert all(key.startswith("data/") for key in data_keys(from_copy))


def test_an_empty_partition_file_holds_no_items(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    summary_key = write_aws_export(store, ITEMS[:2], files=5)  # some partitions hold nothing
    source = open_source(store, summary_key)
    assert sorted(part.expected_items or 0 for part in source.parts).count(0) >= 3
    assert verify_source(source).item_count == 2


def test_zero_byte_partition_file_is_accepted(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    summary_key = write_aws_export(store, [], files=1)
    source = open_source(store, summary_key)
    (key,) = data_keys(source)
    store.put(key, b"")
    files_key = summary_key.replace("manifest-summary.json", "manifest-files.json")
    entry = json.loads(store.get(files_key))
    store.put(files_key, json.dumps({**entry, "md5Checksum": "1B2M2Y8AsgTpgAmY7PhCfg=="}).encode())  # MD5("")
    assert verify_source(open_source(store, summary_key)).ok


def rewrite_json(store: LocalStore, key: str, change: dict[str, Any]) -> None:
    store.put(key, json.dumps({**json.loads(store.get(key)), **change}).encode())


def rewrite_first_line(store: LocalStore, key: str, change: dict[str, Any]) -> None:
    lines = store.get(key).decode().splitlines()
    lines[0] = json.dumps({**json.loads(lines[0]), **change})
    store.put(key, ("\n".join(lines) + "\n").encode())


@pytest.fixture
def export(tmp_path: Path) -> tuple[LocalStore, str, str, list[str]]:
    store = LocalStore(tmp_path)
    summary_key = write_aws_export(store, ITEMS, files=3)
    files_key = summary_key.replace("manifest-summary.json", "manifest-files.json")
    return store, summary_key, files_key, data_keys(open_source(store, summary_key))


def test_manifests_that_disagree_are_refused(export: tuple[LocalStore, str, str, list[str]]) -> None:
    store, summary_key, _, _ = export
    rewrite_json(store, summary_key, {"itemCount": len(ITEMS) + 1})
    with pytest.raises(
        CorruptBackup,
        match=rf"manifests disagree: .*manifest-summary\.json says {len(ITEMS) + 1} items but "
        rf".*manifest-files\.json lists {len(ITEMS)} in 3 files",
    ):
        open_source(store, summary_key)


def test_changed_byte_is_a_checksum_mismatch(export: tuple[LocalStore, str, str, list[str]]) -> None:
    store, summary_key, files_key, keys = export
    lines = gzip.decompress(store.get(keys[-1]))
    tampered = lines.replace(b'"S":"v3"', b'"S":"v4"', 1)
    assert tampered != lines
    store.put(keys[-1], gzip.compress(tampered))  # still valid gzip and JSON: only the MD5 can tell
    listed_md5 = json.loads(store.get(files_key).splitlines()[-1])["md5Checksum"]
    report = verify_source(open_source(store, summary_key))
    assert len(report.problems) == 1
    problem = re.fullmatch(
        rf"{re.escape(store.location(keys[-1]))}: checksum mismatch: manifest-files\.json says MD5 "
        rf"{re.escape(listed_md5)}, the object's (\d+) bytes have MD5 (\S+)",
        report.problems[0],
    )
    assert problem is not None, report.problems[0]
    assert int(problem[1]) == len(store.get(keys[-1]))
    assert problem[2] != listed_md5


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        ("truncate", r"the gzip stream is damaged or truncated"),
        ("invalid-json", r", line 1: Expecting ',' delimiter"),
        ("count", r": holds \d+ items but manifest-files\.json lists 1000"),
        ("missing", r"no backup file at .*\.json\.gz"),
    ],
)
def test_damaged_data_file_is_named(
    export: tuple[LocalStore, str, str, list[str]], damage: str, message: str
) -> None:
    store, summary_key, files_key, keys = export
    if damage == "truncate":
        raw = store.get(keys[0])
        store.put(keys[0], raw[: len(raw) - 40])
    elif damage == "invalid-json":
        first = open_source(store, summary_key).parts[0].expected_items or 0
        store.put(keys[0], gzip.compress(b'{"Item": {"pk": {"S": "a"}}\n'))
        rewrite_first_line(store, files_key, {"itemCount": 1})
        rewrite_json(store, summary_key, {"itemCount": len(ITEMS) - first + 1})
    elif damage == "count":
        first = open_source(store, summary_key).parts[0].expected_items or 0
        rewrite_first_line(store, files_key, {"itemCount": 1000})
        rewrite_json(store, summary_key, {"itemCount": len(ITEMS) - first + 1000})  # manifests agree
    elif damage == "missing":
        store.delete([keys[0]])
    report = verify_source(open_source(store, summary_key))
    assert len(report.problems) == 1
    assert report.problems[0].startswith(store.location(keys[0])) or damage == "missing"
    assert keys[0].rsplit("/", 1)[-1] in report.problems[0]
    assert re.search(message, report.problems[0]), report.problems[0]


def test_every_damaged_file_is_reported(export: tuple[LocalStore, str, str, list[str]]) -> None:
    store, summary_key, _, keys = export
    for key in keys[:2]:
        raw = store.get(key)
        store.put(key, raw[:-10])
    report = verify_source(open_source(store, summary_key))
    assert len(report.problems) == 2
    assert "(and 1 more problem: run verify to list them)" in report.failure()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"outputFormat": "ION"}, r"is an export in ION format; this tool reads DYNAMODB_JSON exports"),
        ({"exportType": "INCREMENTAL_EXPORT"}, r"is an INCREMENTAL_EXPORT: it holds changes"),
    ],
)
def test_exports_of_another_kind_are_refused(
    export: tuple[LocalStore, str, str, list[str]], change: dict[str, Any], message: str
) -> None:
    store, summary_key, _, _ = export
    rewrite_json(store, summary_key, change)
    with pytest.raises(NotABackup, match=message):
        open_source(store, summary_key)


def test_manifest_problems_are_named(export: tuple[LocalStore, str, str, list[str]]) -> None:
    store, summary_key, files_key, _ = export
    rewrite_first_line(store, files_key, {"dataFileS3Key": "elsewhere/secrets.json.gz"})
    with pytest.raises(CorruptBackup, match=r"line 1 names 'elsewhere/secrets\.json\.gz', which is outside"):
        open_source(store, summary_key)
    store.put(files_key, b"{not json\n")
    with pytest.raises(CorruptBackup, match=r"manifest-files\.json, line 1, is not valid JSON"):
        open_source(store, summary_key)
    store.put(summary_key, b"{")
    with pytest.raises(CorruptBackup, match=r"manifest .*manifest-summary\.json is not valid JSON"):
        open_source(store, summary_key)


def replace_first_file(store: LocalStore, files_key: str, key: str, raw: bytes) -> None:
    """Put `raw` as the first data file and record its MD5, as an export of that content would."""
    store.put(key, raw)
    md5 = base64.b64encode(hashlib.md5(raw, usedforsecurity=False).digest()).decode()
    rewrite_first_line(store, files_key, {"md5Checksum": md5})


@pytest.mark.parametrize("compress", [True, False], ids=["gzip", "plain"])
def test_blank_lines_hold_nothing_and_the_last_line_may_lack_its_newline(
    export: tuple[LocalStore, str, str, list[str]], compress: bool
) -> None:
    store, summary_key, files_key, keys = export
    before = read_all(open_source(store, summary_key))
    lines = gzip.decompress(store.get(keys[0])).splitlines()
    relaxed = b"\n" + b"\n \r\n".join(lines)  # blank lines around every item, no newline at the end
    replace_first_file(store, files_key, keys[0], gzip.compress(relaxed) if compress else relaxed)
    source = open_source(store, summary_key)
    assert read_all(source) == before
    meter = ReadMeter()
    list(source.parts[0].items(meter))
    assert meter.object_bytes == len(store.get(keys[0]))
    assert meter.json_bytes == len(relaxed)
    # Unparsed, the same lines hold the same items, in the same places (what a write pass sends).
    part = source.parts[0]
    assert isinstance(part, ItemLines)
    assert [line.strip() for line in part.item_lines()] == [
        line.strip() for _, line in part.entries() if line is not None
    ]
    assert len(list(part.item_lines())) == len(list(part.items()))


def test_bad_line_is_numbered_among_the_item_lines(export: tuple[LocalStore, str, str, list[str]]) -> None:
    store, summary_key, files_key, keys = export
    raw = gzip.compress(b'{"Item":{"pk":{"S":"a"}}}\n\n\n{"Item":{"pk":{"S":"b"}}\n')
    replace_first_file(store, files_key, keys[0], raw)
    with pytest.raises(CorruptBackup, match=r"json\.gz, line 2: Expecting ',' delimiter"):
        list(open_source(store, summary_key).parts[0].items())
