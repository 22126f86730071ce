"""Data files are checked end to end: size, SHA-256, gzip integrity, line count."""

import gzip
import hashlib
from pathlib import Path

import pytest

from ledger_backup.backup.data_files import DataFileWriter
from ledger_backup.errors import BackupNotFound, CorruptBackup
from ledger_backup.manifest import DataFile
from ledger_backup.sources.ledger import read_lines
from ledger_backup.storage.stores import LocalStore

LINES = [f'{{"Item":{{"pk":{{"S":"k{n}"}}}}}}\n' for n in range(500)]


def write_file(store: LocalStore) -> DataFile:
    writer = DataFileWriter(store, "b/", "data/f.json.gz", compress_level=3)
    writer.write_lines("".join(LINES[:200]), 200)
    writer.write_lines("".join(LINES[200:]), 300)
    return writer.finish()


def test_entry_describes_the_object(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    entry = write_file(store)
    raw = (tmp_path / "b/data/f.json.gz").read_bytes()
    assert entry.item_count == 500
    assert entry.compressed_bytes == len(raw)
    assert entry.sha256 == hashlib.sha256(raw).hexdigest()
    assert entry.uncompressed_bytes == len("".join(LINES).encode())
    assert gzip.decompress(raw).decode() == "".join(LINES)
    assert [line.decode() for line in read_lines(store, "b/", entry)] == LINES


def test_aborted_file_leaves_nothing(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    writer = DataFileWriter(store, "b/", "data/f.json.gz", compress_level=3)
    writer.write_lines(LINES[0], 1)
    writer.abort()
    assert list(store.list_keys("")) == []
    assert not any(tmp_path.rglob("*.partial"))


def damage(path: Path, how: str) -> None:
    raw = bytearray(path.read_bytes())
    if how == "truncate":
        del raw[len(raw) // 2 :]
    elif how == "flip-byte":
        raw[len(raw) // 2] ^= 0x01
    elif how == "append":
        raw += gzip.compress(b'{"Item":{"pk":{"S":"extra"}}}\n')
    path.write_bytes(bytes(raw))


@pytest.mark.parametrize(
    ("how", "problem"),
    [("truncate", "damaged or truncated"), ("flip-byte", "damaged|checksum"), ("append", "checksum")],
)
def test_damaged_file_is_refused(tmp_path: Path, how: str, problem: str) -> None:
    store = LocalStore(tmp_path)
    entry = write_file(store)
    damage(tmp_path / "b/data/f.json.gz", how)
    with pytest.raises(CorruptBackup, match=problem):
        list(read_lines(store, "b/", entry))


def test_count_mismatch_is_refused(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    entry = write_file(store)
    wrong = DataFile(entry.key, 499, entry.compressed_bytes, entry.uncompressed_bytes, entry.sha256)
    with pytest.raises(CorruptBackup, match="holds 500 items but the manifest lists 499"):
        list(read_lines(store, "b/", wrong))


def test_missing_file_is_named(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    entry = DataFile("data/gone.json.gz", 1, 1, 1, "00")
    with pytest.raises(BackupNotFound, match=r"gone\.json\.gz"):
        list(read_lines(store, "b/", entry))
