"""A full export plus incremental exports read as the table at `until`; every refusal before any write."""

import gzip
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from ledger_backup.backup.export import catalog_export
from ledger_backup.errors import CorruptBackup, InvalidRequest
from ledger_backup.restore.verify import verify_source
from ledger_backup.sources import NotABackup, Source
from ledger_backup.sources.aws_incremental import open_incremental
from ledger_backup.sources.chain import ALL_INCREMENTALS, open_source_chain
from ledger_backup.storage.stores import LocalStore
from tests.chain_story import FIRST, MID, SECOND, T0, T1, T2, Chain, expected_state, iso, write_chain
from tests.unit import test_export_backup as export_backups


def state(source: Source) -> list[dict[str, Any]]:
    items = [item for part in source.parts for item in part.items()]
    return sorted(items, key=lambda item: item["book_id"]["S"])


def open_chain_of(store: LocalStore, chain: Chain, until: str = "") -> Source:
    return open_source_chain(store, chain.full, chain.incrementals, until)


@pytest.fixture
def store(tmp_path: Path) -> LocalStore:
    return LocalStore(tmp_path / "bucket")


@pytest.mark.parametrize(
    ("until", "moment"),
    [("", T2), (iso(T1), T1), (iso(MID), MID), (iso(T0), T0), (iso(T2), T2)],
    ids=["whole", "at-first-end", "inside-second", "at-full-export", "at-chain-end"],
)
def test_chain_reads_as_the_table_at_until(store: LocalStore, until: str, moment: Any) -> None:
    chain = write_chain(store)
    source = open_chain_of(store, chain, until)
    assert state(source) == expected_state(moment)
    assert state(source) == state(source)  # the same every time: a resumed restore's positions hold
    assert source.incrementals == tuple(chain.incrementals)
    assert (source.until, source.key, source.key_names) == (until, chain.full, ("book_id",))
    report = verify_source(source)
    assert report.ok, report.problems
    assert report.item_count == len(expected_state(moment))


def test_the_whole_chain_drops_what_an_update_removed_and_what_was_deleted(store: LocalStore) -> None:
    items = {item["book_id"]["S"]: item for item in state(open_chain_of(store, write_chain(store)))}
    assert items["b1"] == {"book_id": {"S": "b1"}, "title": {"S": "t1 revised"}}  # pages dropped
    assert items["b5"] == {"book_id": {"S": "b5"}, "title": {"S": "t5"}, "note": {"S": "moved"}}
    assert not {"b2", "b4", "b100"} & items.keys()
    assert {"b101", "b0", "b59"} <= items.keys()


def test_incremental_manifests_and_the_shared_data_folder(store: LocalStore, tmp_path: Path) -> None:
    chain = write_chain(store)
    first = open_incremental(store, chain.incrementals[0])
    assert (first.from_time, first.to_time, first.item_count) == (T0, T1, len(FIRST))
    assert all(f.key.startswith("exports/AWSDynamoDB/data/") for f in first.files)
    # an empty data file (a partition without changes) reads as no changes, its MD5 checked too
    assert sorted(f.item_count for f in open_incremental(store, chain.incrementals[1]).files)[0] == 0
    assert len(list(first.changes())) == len(FIRST)


def test_a_chain_copied_to_another_prefix_reads_the_same(store: LocalStore, tmp_path: Path) -> None:
    chain = write_chain(store)
    shutil.copytree(tmp_path / "bucket" / "exports", tmp_path / "bucket" / "copies" / "2026-02" / "exports")
    moved = Chain("copies/2026-02/" + chain.full, ["copies/2026-02/" + key for key in chain.incrementals])
    shutil.rmtree(tmp_path / "bucket" / "exports")  # nothing of the original is read
    assert state(open_chain_of(store, moved, iso(MID))) == expected_state(MID)


def test_a_gap_in_the_chain_is_refused(store: LocalStore) -> None:
    chain = write_chain(store)
    with pytest.raises(
        CorruptBackup, match=r"the chain is broken at incremental 1: .* starts at 2026-02-14T08:28"
    ):
        open_source_chain(store, chain.full, chain.incrementals[1:])
    with pytest.raises(CorruptBackup, match="the chain is broken at incremental 1"):
        open_source_chain(store, chain.full, list(reversed(chain.incrementals)))


def test_a_damaged_data_file_is_refused_by_its_md5(store: LocalStore, tmp_path: Path) -> None:
    chain = write_chain(store)
    data = next(f for f in open_incremental(store, chain.incrementals[1]).files if f.item_count)
    path = tmp_path / "bucket" / data.key
    path.write_bytes(gzip.compress(gzip.decompress(path.read_bytes()).replace(b"eleven", b"elevem"), mtime=0))
    with pytest.raises(CorruptBackup, match=r"checksum mismatch: manifest-files\.json says MD5"):
        open_chain_of(store, chain)


def test_a_changed_manifest_is_refused_by_its_md5_file(store: LocalStore, tmp_path: Path) -> None:
    chain = write_chain(store)
    path = tmp_path / "bucket" / chain.incrementals[0]
    summary = json.loads(path.read_bytes())
    path.write_text(json.dumps(summary, indent=2))  # the same content, other bytes: not what was exported
    with pytest.raises(CorruptBackup, match=r"manifest-summary.json does not match .*manifest-summary.md5"):
        open_chain_of(store, chain)
    (tmp_path / "bucket" / chain.incrementals[0].replace(".json", ".md5")).unlink()  # a copy without it
    assert state(open_chain_of(store, chain)) == expected_state()


@pytest.mark.parametrize(
    ("until", "message"),
    [
        ("2026-02-14T07:00:00Z", "is before the full export's time 2026-02-14T07:28:34.028000"),
        ("2026-02-14T10:00:00Z", "is after the chain's end 2026-02-14T09:28:34.028000"),
        ("2026-02-14T08:00:00", "has no UTC offset"),
        ("yesterday", "is not an ISO 8601 time"),
    ],
)
def test_until_outside_the_chain_is_refused(store: LocalStore, until: str, message: str) -> None:
    with pytest.raises(InvalidRequest, match=message):
        open_chain_of(store, write_chain(store), until)


def test_what_is_not_a_chain_is_refused(store: LocalStore) -> None:
    chain = write_chain(store)
    with pytest.raises(NotABackup, match=r"not an incremental export.s manifest-summary\.json"):
        open_source_chain(store, chain.full, [chain.full])
    with pytest.raises(InvalidRequest, match="until needs incrementals"):
        open_source_chain(store, chain.full, [], iso(T1))


def test_a_record_that_is_not_a_change_is_refused(store: LocalStore, tmp_path: Path) -> None:
    chain = write_chain(store)
    first = open_incremental(store, chain.incrementals[0])
    data = next(f for f in first.files if f.item_count)
    path = tmp_path / "bucket" / data.key
    lines = gzip.decompress(path.read_bytes()).splitlines(keepends=True)
    lines[0] = json.dumps({"Keys": json.loads(lines[0])["Keys"]}).encode() + b"\n"
    path.write_bytes(gzip.compress(b"".join(lines), mtime=0))
    with pytest.raises(CorruptBackup, match=r"line 1: Metadata.WriteTimestampMicros is missing"):
        list(first.changes())
    assert len(list(open_incremental(store, chain.incrementals[1]).changes())) == len(SECOND)


def test_this_tools_export_backup_finds_its_chain_in_its_own_records(tmp_path: Path) -> None:
    """`"incrementals": "all"`: the links recorded under the base's incrementals/ folder, in order."""
    store = LocalStore(tmp_path)
    first = export_backups.chain_of_one(store)  # the export backups' own test layout: base + one link
    catalog_export(store, first)
    base_key = f"{export_backups.BASE}manifest.json"
    source = open_source_chain(store, base_key, ALL_INCREMENTALS)
    assert source.incrementals == (first.summary_key,)
    items = {item["book_id"]["S"]: item for item in state_of(source)}
    expected = {b["book_id"]["S"]: b for b in export_backups.books(0, 9)}
    expected["b-1"] = {"book_id": {"S": "b-1"}, "steps": {"N": "1"}}
    expected["book-0001"] = {"book_id": {"S": "book-0001"}, "steps": {"N": "2"}}
    del expected["book-0002"]
    assert items == expected
    store.delete([f"{first.folder}incremental.json"])
    with pytest.raises(
        InvalidRequest, match=r"records no incremental exports \(no incrementals/<ts>/incremental\.json\)"
    ):
        open_source_chain(store, base_key, ALL_INCREMENTALS)
    with pytest.raises(InvalidRequest, match='a list of keys or "all"'):
        open_source_chain(store, base_key, "every")


def state_of(source: Source) -> list[dict[str, Any]]:
    return [item for part in source.parts for item in part.items()]
