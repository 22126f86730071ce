"""A small gzip that inflates into one huge line or item: refused after the bound, in bounded memory."""

import gzip
import hashlib
import io
import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from devtools.legacy_formats import write_scan_json
from ledger_backup import layout
from ledger_backup.errors import CorruptBackup
from ledger_backup.item_rules import MAX_ITEM_BYTES
from ledger_backup.manifest import DataFile, Manifest
from ledger_backup.restore.verify import verify_source
from ledger_backup.sources import open_source
from ledger_backup.storage.stores import LocalStore
from ledger_backup.storage.streams import MAX_ITEM_TEXT_BYTES
from tests.unit.ledger_folders import SCHEMA, items, write_backup

HUGE = 1 << 30  # bytes of content the hostile files inflate to
_MEMBER = 64 << 20  # gzip members are concatenated: one is compressed once and repeated
TOO_LONG = f"longer than {MAX_ITEM_TEXT_BYTES:,} bytes, more than any item DynamoDB accepts can take as JSON"
LAMBDAS = Path(__file__).resolve().parents[2] / "lambdas"


def inflating(head: bytes, filler: bytes = b"a") -> bytes:
    """A gzip of about 1 MB whose content is `head` then HUGE bytes of `filler`, with no newline."""
    body = gzip.compress(filler * _MEMBER, compresslevel=9)
    return gzip.compress(head + filler * _MEMBER, compresslevel=9) + body * (HUGE // _MEMBER - 1)


@pytest.fixture(scope="module")
def huge_line() -> bytes:
    return inflating(b'{"Item":{"pk":{"S":"')


def write_hostile_backup(store: LocalStore, data: bytes) -> str:
    """A ledger backup whose one data file is `data`, listed truthfully (so only its content is wrong)."""
    folder = layout.backup_folder("backups/", "ledger", datetime(2026, 11, 25, 3, tzinfo=UTC))
    key = "data/segment-0000-part-0000-x.json.gz"
    store.put(folder + key, data)
    entry = DataFile(key, 1, len(data), HUGE, hashlib.sha256(data).hexdigest())
    manifest = Manifest(
        table_name="ledger",
        table_arn="arn:aws:dynamodb:us-east-1:123456789012:table/ledger",
        schema=SCHEMA,
        started_at="2026-11-25T03:00:00+00:00",
        finished_at="2026-11-25T03:01:00+00:00",
        total_segments=1,
        files=[entry],
    )
    store.put_new(layout.manifest_key(folder), manifest.to_json_bytes())
    return layout.manifest_key(folder)


def problems(store: LocalStore, key: str) -> list[str]:
    return list(verify_source(open_source(store, key)).problems)


def test_a_huge_line_in_a_backup_is_refused_naming_file_and_line(tmp_path: Path, huge_line: bytes) -> None:
    store = LocalStore(tmp_path)
    key = write_hostile_backup(store, huge_line)
    assert len(huge_line) < 4 << 20
    folder = key.rpartition("/")[0]
    assert problems(store, key) == [
        f"{store.location(folder)}/data/segment-0000-part-0000-x.json.gz, line 1: {TOO_LONG}"
    ]


def test_a_huge_line_in_an_export_style_file_is_refused(tmp_path: Path, huge_line: bytes) -> None:
    """The same bound for every line reader: here a line after a valid one, so it is line 2."""
    store = LocalStore(tmp_path)
    first = b'{"Item":{"pk":{"S":"k"}}}\n'
    data = gzip.compress(first) + huge_line
    key = write_hostile_backup(store, data)
    assert problems(store, key)[0].endswith(f"line 2: {TOO_LONG}")


def test_a_huge_string_in_a_scan_document_is_refused(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    store.put("scan.json.gz", inflating(b'{"Items": [{"pk": {"S": "k"}}, {"pk": {"S": "'))
    with pytest.raises(CorruptBackup, match=r"scan\.json\.gz, item 2: " + TOO_LONG):
        open_source(store, "scan.json.gz")  # the shape pass reads it first


def test_a_huge_string_of_spaces_in_a_scan_document_is_refused(tmp_path: Path) -> None:
    """Spaces are not counted against an item (indentation), but a token of them still is."""
    store = LocalStore(tmp_path)
    store.put("scan.json.gz", inflating(b'{"Items": [{"pk": {"S": "', filler=b" "))
    with pytest.raises(CorruptBackup, match=r"item 1: " + TOO_LONG):
        open_source(store, "scan.json.gz")


def test_many_strings_of_spaces_in_one_scan_item_are_refused(tmp_path: Path) -> None:
    """Each string below the bound, their sum above it: the item is refused before it is built."""
    store = LocalStore(tmp_path)
    spaces = " " * (1 << 20)
    item = {f"a{n}": {"S": spaces} for n in range(12)} | {"pk": {"S": "k"}}
    store.put("scan.json", json.dumps({"Items": [item], "Count": 1}).encode())
    with pytest.raises(CorruptBackup, match=r"item 1: " + TOO_LONG):
        open_source(store, "scan.json")


def test_many_small_values_in_one_scan_item_are_refused(tmp_path: Path) -> None:
    """A list of NULLs far past 400 KB is many small tokens: refused before ijson builds the item."""
    store = LocalStore(tmp_path)
    values = b'{"NULL": true}, ' * (MAX_ITEM_TEXT_BYTES // 10)  # about 13 MB, 840,000 values
    store.put("scan.json.gz", gzip.compress(b'{"Items": [{"pk": {"S": "k"}, "l": {"L": [' + values, 1))
    with pytest.raises(CorruptBackup, match=r"item 1: " + TOO_LONG):
        open_source(store, "scan.json.gz")


def near_limit_items() -> list[dict[str, Any]]:
    """Items DynamoDB accepts (just under 400 KB) whose JSON is as long as it gets per counted byte."""
    bools = {"pk": {"S": "b"}, "l": {"L": [{"BOOL": False}] * ((MAX_ITEM_BYTES - 100) // 2)}}
    control = {"pk": {"S": "c"}, "s": {"S": "\x01" * (MAX_ITEM_BYTES - 100)}}
    sets = {"pk": {"S": "s"}, "l": {"L": [{"SS": ["\x01"]}] * ((MAX_ITEM_BYTES - 100) // 2)}}
    return [bools, control, sets]


def test_valid_items_close_to_400_kb_still_pass(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    key = write_backup(store, [near_limit_items()])
    assert problems(store, key) == []
    write_scan_json(store, "scan.json", near_limit_items())
    assert problems(store, "scan.json") == []
    assert sum(1 for _ in open_source(store, "scan.json").parts[0].items()) == 3


# VmHWM, not getrusage: Linux carries the forking process's peak RSS into ru_maxrss across exec.
_PEAK = """
import re, sys
from ledger_backup.cli import main
code = main(["verify", sys.argv[1]])
with open("/proc/self/status") as status:
    print(code, re.search(r"VmHWM:\\s+(\\d+) kB", status.read()).group(1))
"""


def peak_rss_kib(location: str) -> tuple[int, int]:
    """A fresh process verifies `location`; its exit code and its own peak RSS."""
    env = {**os.environ, "PYTHONPATH": f"{LAMBDAS}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    done = subprocess.run(  # noqa: S603 - our own CLI on the test's own files
        [sys.executable, "-c", _PEAK, location], capture_output=True, text=True, env=env, check=True
    )
    code, peak = done.stdout.split()[-2:]
    return int(code), int(peak)


def test_peak_memory_on_a_huge_line_is_within_a_fifth_of_a_normal_backup(
    tmp_path: Path, huge_line: bytes
) -> None:
    normal = LocalStore(tmp_path / "normal")
    normal_key = write_backup(normal, [items(0, 2000), items(2000, 2000)])
    hostile = LocalStore(tmp_path / "hostile")
    hostile_key = write_hostile_backup(hostile, huge_line)
    normal_code, normal_peak = peak_rss_kib(normal.location(normal_key))
    hostile_code, hostile_peak = peak_rss_kib(hostile.location(hostile_key))
    assert (normal_code, hostile_code) == (0, 2)
    assert hostile_peak <= 1.2 * normal_peak, (hostile_peak, normal_peak)


def test_the_hostile_file_really_inflates_to_a_gigabyte_in_one_line(huge_line: bytes) -> None:
    total, newlines = 0, 0
    with gzip.GzipFile(fileobj=io.BytesIO(huge_line)) as content:
        while chunk := content.read(1 << 24):
            total += len(chunk)
            newlines += chunk.count(b"\n")
    assert (total, newlines) == (HUGE + len(b'{"Item":{"pk":{"S":"'), 0)
