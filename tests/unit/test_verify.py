"""verify_source reads a whole backup and reports every damaged part, its counts and its keys."""

import gzip
from dataclasses import replace
from pathlib import Path

import pytest

from ledger_backup.codec import Item
from ledger_backup.errors import BackupNotFound
from ledger_backup.restore.verify import Comparison, DryRunReport, verify_source
from ledger_backup.schema import TableSchema
from ledger_backup.sources import Source, SourceKind
from ledger_backup.storage.stores import LocalStore
from tests.unit.ledger_folders import SCHEMA, items, open_backup

PARTS = [items(0, 30), items(30, 20), items(50, 10)]


@pytest.fixture
def store(tmp_path: Path) -> LocalStore:
    return LocalStore(tmp_path)


def data_paths(tmp_path: Path) -> list[Path]:
    return sorted(tmp_path.rglob("data/*.json.gz"))


def test_a_whole_backup_is_ok_with_its_counts_and_bytes(store: LocalStore, tmp_path: Path) -> None:
    source = open_backup(store, PARTS)
    seen: list[Item] = []
    report = verify_source(source, SCHEMA, on_entry=lambda item, _line: seen.append(item))
    assert report.ok
    assert report.problems == ()
    assert (report.parts, report.item_count, report.expected_items) == (3, 60, 60)
    assert report.object_bytes == sum(p.stat().st_size for p in data_paths(tmp_path))
    assert report.json_bytes == sum(len(gzip.decompress(p.read_bytes())) for p in data_paths(tmp_path))
    assert report.keys_checked == "pk (S, HASH)"
    assert (report.source, report.kind) == (source.location, "ledger-backup")
    assert report.integrity.startswith("SHA-256")
    assert seen == [item for part in PARTS for item in part]


def test_without_a_schema_the_keys_are_not_checked(store: LocalStore) -> None:
    report = verify_source(open_backup(store, [[{"other": {"S": "no pk"}}]]))
    assert report.ok
    assert report.keys_checked is None


def test_every_damaged_part_is_named_and_the_others_still_read(store: LocalStore, tmp_path: Path) -> None:
    source = open_backup(store, PARTS)
    first, _, last = data_paths(tmp_path)
    for path in (first, last):
        raw = path.read_bytes()
        path.write_bytes(raw[: len(raw) - 8])
    report = verify_source(source, SCHEMA)
    assert not report.ok
    assert len(report.problems) == 2
    assert first.name in report.problems[0]
    assert last.name in report.problems[1]
    assert report.item_count >= 20  # the middle part was read through
    assert report.failure().startswith(f"{source.location} failed its check: ")
    assert report.failure().endswith("(and 1 more problem: run verify to list them)")


def test_a_changed_byte_fails_the_checksum(store: LocalStore, tmp_path: Path) -> None:
    source = open_backup(store, PARTS)
    path = data_paths(tmp_path)[1]
    lines = gzip.decompress(path.read_bytes())
    path.write_bytes(gzip.compress(lines.replace(b'"N":"31"', b'"N":"32"', 1)))
    report = verify_source(source, SCHEMA)
    assert len(report.problems) == 1
    assert "checksum mismatch" in report.problems[0]
    assert report.failure() == f"{source.location} failed its check: {report.problems[0]}"


def test_a_missing_part_is_a_problem_not_a_crash(store: LocalStore, tmp_path: Path) -> None:
    source = open_backup(store, PARTS)
    data_paths(tmp_path)[2].unlink()
    report = verify_source(source, SCHEMA)
    assert report.item_count == 50
    assert len(report.problems) == 1


def test_a_count_that_disagrees_with_the_sources_records(store: LocalStore) -> None:
    source = replace(open_backup(store, PARTS), expected_items=61)
    report = verify_source(source, SCHEMA)
    assert report.problems == ("holds 60 items but its manifest lists 61",)
    assert report.item_count == 60


@pytest.mark.parametrize(
    ("item", "problem"),
    [
        ({"n": {"N": "1"}}, "item 3: attribute pk: missing; it is the table's partition key (S)"),
        ({"pk": {"N": "1"}}, "item 3: attribute pk: the table's partition key needs type S, the item has N"),
    ],
)
def test_items_are_checked_against_the_key_schema(store: LocalStore, item: Item, problem: str) -> None:
    source = open_backup(store, [[*items(0, 2), item, *items(2, 2)]])
    report = verify_source(source, SCHEMA)
    assert len(report.problems) == 1
    assert report.problems[0].endswith(problem)
    assert report.problems[0].startswith(source.parts[0].location)


def test_a_range_key_is_checked_too(store: LocalStore) -> None:
    schema = TableSchema(
        key_schema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "n", "KeyType": "RANGE"}],
        attribute_definitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "n", "AttributeType": "S"},
        ],
    )
    report = verify_source(open_backup(store, [items(0, 1)]), schema)
    expected = "item 1: attribute n: the table's sort key needs type S, the item has N"
    assert report.problems[0].endswith(expected)


def verified(source: Source) -> DryRunReport:
    return DryRunReport(verify_source(source, SCHEMA))


def test_the_dry_run_report_says_verified_or_corrupt(store: LocalStore, tmp_path: Path) -> None:
    source = open_backup(store, PARTS)
    document = verified(source).to_json()
    assert (document["status"], document["dry_run"], document["item_count"], document["problems"]) == (
        "verified",
        True,
        60,
        [],
    )
    assert {"object_bytes", "json_bytes", "source", "kind", "keys_checked"} <= document.keys()
    assert "against" not in document
    data_paths(tmp_path)[0].write_bytes(b"not gzip")
    corrupt = verified(source).to_json()
    assert (corrupt["status"], len(corrupt["problems"])) == ("corrupt", 1)


def test_the_dry_run_report_carries_a_comparison() -> None:
    report = verify_source(
        Source(
            kind=SourceKind.SCAN_JSON,
            key="k",
            location="k",
            parts=(),
            schema=None,
            expected_items=None,
            integrity="JSON only",
        )
    )
    comparison = Comparison("t", 0, "d", 0, "d")
    document = DryRunReport(report, against=comparison).to_json()
    assert document["against"] == comparison.to_json()
    assert document["against"]["verdict"] == "match"


def test_an_unreadable_backup_is_reported_in_the_same_shape(store: LocalStore) -> None:
    report = DryRunReport.unreadable("s3://b/backups/t/x/", BackupNotFound("manifest.json is not JSON"))
    assert not report.ok
    document = report.to_json()
    assert (document["status"], document["dry_run"], document["source"]) == (
        "corrupt",
        True,
        "s3://b/backups/t/x/",
    )
    assert (document["item_count"], document["object_bytes"], document["json_bytes"]) == (0, 0, 0)
    assert document["problems"] == ["manifest.json is not JSON"]
    assert document.keys() == verified(open_backup(store, PARTS)).to_json().keys()
