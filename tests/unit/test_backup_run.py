"""Backup orchestration: a parallel Scan into data files, the manifest last, pauses, resumes and twins.

DynamoDB is a stand-in (tests/unit/stand_ins.ScanTable: DescribeTable, DescribeTimeToLive and a
Scan paginator), except in the last tests, which drive a real botocore client through the
project's own scanner (aws.scan_texts.TextScanner, which cuts the item texts out of the raw
response) over an HTTP stand-in: the fast path only exists inside botocore's
response handling, so a Stubber (which skips it) cannot reach it.
"""

import gzip
import hashlib
import json
import threading
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, cast

import boto3
import pytest
from botocore.awsrequest import AWSPreparedRequest, AWSResponse
from botocore.exceptions import ClientError

from ledger_backup.aws.clients import dynamodb_client
from ledger_backup.aws.scan_texts import TextScanner
from ledger_backup.backup.progress import BackupProgress
from ledger_backup.backup.run import (
    BackupInProgress,
    BackupOptions,
    BackupResult,
    resume_backup,
    run_backup,
    start_backup,
)
from ledger_backup.codec import Item, encode_item, loads_items_json
from ledger_backup.errors import BackupNotFound, CorruptBackup, TableNotFound
from ledger_backup.manifest import Manifest
from ledger_backup.storage.stores import LocalStore, Upload
from tests.unit.stand_ins import ScanTable, table_description

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

NOW = datetime(2026, 11, 25, 3, 0, 0, 123456, tzinfo=UTC)
FOLDER = "backups/ledger/2026-11-25T03-00-00.123Z/"
MANIFEST = FOLDER + "manifest.json"


def item(n: int) -> Item:
    """An item as botocore's low-level client returns it (B as bytes, N as text)."""
    return {
        "pk": {"S": f"book-{n:04d}"},
        "pages": {"N": f"1234567890123456789012345678901234567{n % 10}"},  # 38 digits
        "cover": {"B": bytes([n % 256, 0, 255])},
        "tags": {"SS": ["a", f"t{n}"]},
        "meta": {"M": {"ok": {"BOOL": True}, "none": {"NULL": True}, "l": {"L": [{"N": "1"}]}}},
    }


def items(start: int, count: int) -> list[Item]:
    return [item(n) for n in range(start, start + count)]


def ledger(segments: list[list[Item]], **kwargs: Any) -> ScanTable:
    return ScanTable(
        description=table_description("ledger", item_count=100, size_bytes=100 * 4096),
        segments=segments,
        ttl={"TimeToLiveStatus": "ENABLED", "AttributeName": "expires_at"},
        **kwargs,
    )


def client(table: ScanTable) -> "DynamoDBClient":
    return cast("DynamoDBClient", table)


class RecordingStore:
    """A LocalStore that logs every write that becomes visible, in order, and every delete."""

    def __init__(self, root: Path) -> None:
        self.inner = LocalStore(root)
        self.events: list[tuple[str, str]] = []
        self.committed = threading.Condition()

    def log(self, event: str, key: str) -> None:
        with self.committed:
            self.events.append((event, key))
            self.committed.notify_all()

    def wait_for_commits(self, *fragments: str, timeout: float = 10) -> bool:
        """Block until a committed key contains each fragment (e.g. "segment-0000")."""

        def seen() -> bool:
            keys = [key for event, key in self.events if event == "commit"]
            return all(any(fragment in key for key in keys) for fragment in fragments)

        with self.committed:
            return self.committed.wait_for(seen, timeout)

    def location(self, key: str) -> str:
        return self.inner.location(key)

    def open_upload(self, key: str) -> Upload:
        return _RecordingUpload(self, key, self.inner.open_upload(key))

    def put(self, key: str, data: bytes) -> None:
        self.inner.put(key, data)
        self.log("put", key)

    def put_new(self, key: str, data: bytes) -> None:
        self.inner.put_new(key, data)
        self.log("put_new", key)

    def get(self, key: str) -> bytes:
        return self.inner.get(key)

    def open_read(self, key: str) -> BinaryIO:
        return self.inner.open_read(key)

    def exists(self, key: str) -> bool:
        return self.inner.exists(key)

    def list_keys(self, prefix: str) -> Iterator[str]:
        return self.inner.list_keys(prefix)

    def delete(self, keys: Iterable[str]) -> None:
        keys = list(keys)
        for key in keys:
            self.log("delete", key)
        self.inner.delete(keys)


class _RecordingUpload:
    def __init__(self, store: RecordingStore, key: str, inner: Upload) -> None:
        self.store, self.key, self.inner = store, key, inner

    def write(self, data: bytes) -> int:
        return self.inner.write(data)

    def flush(self) -> None:
        self.inner.flush()

    def commit(self) -> None:
        self.inner.commit()
        self.store.log("commit", self.key)

    def abort(self) -> None:
        self.inner.abort()
        self.store.log("abort", self.key)


@pytest.fixture
def store(tmp_path: Path) -> RecordingStore:
    return RecordingStore(tmp_path / "store")


def files_on_disk(store: RecordingStore) -> list[str]:
    root = store.inner.root
    return (
        sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())
        if root.exists()
        else []
    )


def read_manifest(store: RecordingStore) -> Manifest:
    return Manifest.from_json_bytes(store.get(MANIFEST), MANIFEST)


def backed_up_items(store: RecordingStore) -> dict[str, list[Item]]:
    """Every data file the manifest lists, checked against its entry; its items by file key."""
    manifest = read_manifest(store)
    found: dict[str, list[Item]] = {}
    for entry in manifest.files:
        raw = store.get(FOLDER + entry.key)
        assert len(raw) == entry.compressed_bytes
        assert hashlib.sha256(raw).hexdigest() == entry.sha256
        text = gzip.decompress(raw)
        assert len(text) == entry.uncompressed_bytes
        lines = text.splitlines(keepends=True)
        assert all(line.endswith(b"\n") for line in lines)
        assert len(lines) == entry.item_count
        found[entry.key] = [loads_items_json(line)["Item"] for line in lines]
    return found


def pause_after(pages: int) -> Callable[[], bool]:
    """A should_pause that turns true once it has been asked `pages` times (across all threads)."""
    asked = 0
    lock = threading.Lock()

    def should_pause() -> bool:
        nonlocal asked
        with lock:
            asked += 1
            return asked >= pages

    return should_pause


# --- one invocation ----------------------------------------------------------------------------


def test_full_backup_writes_data_files_and_the_manifest_with_the_right_counts(store: RecordingStore) -> None:
    table = ledger([items(0, 7), items(100, 5)])
    result = start_backup(
        client(table),
        store,
        "ledger",
        options=BackupOptions(total_segments=2, page_size=3),
        now=lambda: NOW,
        invocation_id="inv1",
        scan_pages=table,
    )
    assert isinstance(result, BackupResult)
    assert result.table_name == "ledger"
    assert result.manifest_key == MANIFEST
    assert result.location == store.location(MANIFEST)
    assert result.item_count == 12
    assert result.file_count == 2
    assert result.invocations == 1
    assert result.started_at == NOW.isoformat()

    manifest = read_manifest(store)
    assert manifest.table_name == "ledger"
    assert manifest.table_arn == "arn:aws:dynamodb:eu-west-1:123456789012:table/ledger"
    assert manifest.total_segments == 2
    assert manifest.schema.key_schema == [{"AttributeName": "pk", "KeyType": "HASH"}]
    assert manifest.schema.ttl_attribute == "expires_at"
    assert manifest.started_at == NOW.isoformat()
    assert (result.compressed_bytes, result.uncompressed_bytes) == (
        manifest.compressed_bytes,
        manifest.uncompressed_bytes,
    )
    found = backed_up_items(store)
    assert sorted(found) == [
        "data/segment-0000-part-0000-inv1.json.gz",
        "data/segment-0001-part-0000-inv1.json.gz",
    ]
    by_segment = sorted(found.items())
    assert [entries for _, entries in by_segment] == [items(0, 7), items(100, 5)]  # exact, in scan order
    assert files_on_disk(store) == sorted([MANIFEST, *(FOLDER + k for k in found)])


def test_data_files_are_named_by_segment_part_and_invocation(store: RecordingStore) -> None:
    table = ledger([items(0, 2), items(10, 2)])
    start_backup(
        client(table),
        store,
        "ledger",
        options=BackupOptions(total_segments=2, page_size=5),
        now=lambda: NOW,
        invocation_id="inv1",
        scan_pages=table,
    )
    assert files_on_disk(store) == [
        FOLDER + "data/segment-0000-part-0000-inv1.json.gz",
        FOLDER + "data/segment-0001-part-0000-inv1.json.gz",
        MANIFEST,
    ]


def test_the_manifest_is_written_last_after_every_data_file(store: RecordingStore) -> None:
    table = ledger([items(0, 9), items(20, 9), items(40, 9)])
    run_backup(
        client(table),
        store,
        "ledger",
        options=BackupOptions(total_segments=3, page_size=2, max_file_bytes=1),
        now=lambda: NOW,
        scan_pages=table,
    )
    writes = [(event, key) for event, key in store.events if event in ("commit", "put", "put_new")]
    assert writes[-1] == ("put_new", MANIFEST)  # written once, only if absent
    data_files = {FOLDER + f.key for f in read_manifest(store).files}
    assert all(event == "commit" for event, _ in writes[:-1])
    assert sorted(key for _, key in writes[:-1]) == sorted(data_files)  # each committed once, before
    assert len(data_files) == 15  # 5 pages (4 of 2, 1 of 1) per segment, one file each


def test_scan_requests_are_consistent_parallel_and_paged(store: RecordingStore) -> None:
    table = ledger([items(0, 1), items(1, 1), items(2, 1)])
    run_backup(
        client(table), store, "ledger", options=BackupOptions(total_segments=3, page_size=7), scan_pages=table
    )
    assert sorted(r["Segment"] for r in table.scan_requests) == [0, 1, 2]
    for request in table.scan_requests:
        assert request["TableName"] == "ledger"
        assert request["TotalSegments"] == 3
        assert request["ConsistentRead"] is True
        assert request["Limit"] == 7
        assert "ExclusiveStartKey" not in request


def test_the_page_size_defaults_to_about_one_megabyte_of_items(store: RecordingStore) -> None:
    table = ledger([items(0, 3)])  # 100 items of 4 KiB on average: 256 per MiB
    run_backup(client(table), store, "ledger", options=BackupOptions(total_segments=1), scan_pages=table)
    assert table.scan_requests[0]["Limit"] == 256


def test_eventually_consistent_reads_when_asked(store: RecordingStore) -> None:
    table = ledger([items(0, 3)])
    run_backup(
        client(table),
        store,
        "ledger",
        options=BackupOptions(total_segments=1, consistent_read=False),
        scan_pages=table,
    )
    assert table.scan_requests[0]["ConsistentRead"] is False


def test_big_segments_are_split_into_several_files(store: RecordingStore) -> None:
    table = ledger([items(0, 7)])
    result = start_backup(
        client(table),
        store,
        "ledger",
        options=BackupOptions(total_segments=1, page_size=3, max_file_bytes=1),  # every page fills a file
        now=lambda: NOW,
        invocation_id="inv1",
        scan_pages=table,
    )
    assert isinstance(result, BackupResult)
    found = backed_up_items(store)
    assert sorted(found) == [
        "data/segment-0000-part-0000-inv1.json.gz",
        "data/segment-0000-part-0001-inv1.json.gz",
        "data/segment-0000-part-0002-inv1.json.gz",
    ]
    assert [len(v) for _, v in sorted(found.items())] == [3, 3, 1]
    assert [i for _, v in sorted(found.items()) for i in v] == items(0, 7)
    assert result.file_count == 3


def test_an_empty_table_gives_a_manifest_without_files(store: RecordingStore) -> None:
    table = ledger([[], []])
    result = run_backup(
        client(table),
        store,
        "ledger",
        options=BackupOptions(total_segments=2),
        now=lambda: NOW,
        scan_pages=table,
    )
    assert (result.item_count, result.file_count) == (0, 0)
    assert read_manifest(store).files == []
    assert files_on_disk(store) == [MANIFEST]


def test_an_empty_last_page_adds_no_file(store: RecordingStore) -> None:
    table = ledger([items(0, 6)])  # pages of 3, 3 and an empty one (DynamoDB stops at Limit)
    result = run_backup(
        client(table),
        store,
        "ledger",
        options=BackupOptions(total_segments=1, page_size=3),
        now=lambda: NOW,
        scan_pages=table,
    )
    assert table.pages_served == [(0, 3), (0, 3), (0, 0)]
    assert result.file_count == 1
    assert list(backed_up_items(store).values()) == [items(0, 6)]


def test_a_missing_table_is_table_not_found_and_writes_nothing(store: RecordingStore) -> None:
    table = ledger([items(0, 1)])
    with pytest.raises(TableNotFound, match=r"table 'other' does not exist in region eu-west-1"):
        run_backup(client(table), store, "other", scan_pages=table)
    assert files_on_disk(store) == []


@pytest.mark.parametrize(
    ("segments", "page_size", "message"),
    [(0, None, "total_segments"), (1_000_001, None, "total_segments"), (4, 0, "page_size")],
)
def test_invalid_options_are_refused(segments: int, page_size: int | None, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        BackupOptions(total_segments=segments, page_size=page_size)


# --- failures ----------------------------------------------------------------------------------


def test_a_failing_segment_leaves_no_manifest_and_deletes_the_files_it_wrote(store: RecordingStore) -> None:
    committed_elsewhere = threading.Event()

    def before_page(segment: int, page: int) -> None:
        # segment 1 fails on its second page, but only once the other segments have committed a file each
        if (segment, page) == (1, 1) and store.wait_for_commits("segment-0000", "segment-0002"):
            committed_elsewhere.set()

    table = ledger([items(0, 9), items(100, 9), items(200, 9)], fail={1: 1}, before_page=before_page)
    with pytest.raises(ClientError, match="InternalServerError"):
        run_backup(
            client(table),
            store,
            "ledger",
            options=BackupOptions(total_segments=3, page_size=3, max_file_bytes=1),
            now=lambda: NOW,
            scan_pages=table,
        )
    assert committed_elsewhere.is_set()
    committed = {key for event, key in store.events if event == "commit"}
    deleted = {key for event, key in store.events if event == "delete"}
    assert {key.split("/data/")[1][:12] for key in committed} == {
        "segment-0000",
        "segment-0001",
        "segment-0002",
    }
    assert committed <= deleted  # every data file of the failed invocation is deleted
    assert not any(event == "put_new" for event, _ in store.events)  # no manifest, no checkpoint
    assert files_on_disk(store) == []  # nor any partial upload


def test_a_failure_on_the_first_page_writes_nothing(store: RecordingStore) -> None:
    table = ledger([items(0, 3)], fail={0: 0})
    with pytest.raises(ClientError):
        run_backup(client(table), store, "ledger", options=BackupOptions(total_segments=1), scan_pages=table)
    assert files_on_disk(store) == []
    assert store.events == []


class UndeletableStore(RecordingStore):
    """A store whose deletes fail, as a bucket policy or a lost connection can make them."""

    def delete(self, keys: Iterable[str]) -> None:
        raise OSError("delete refused")


def test_cleanup_after_a_failure_is_best_effort_and_the_scan_error_wins(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = UndeletableStore(tmp_path / "store")
    table = ledger([items(0, 9)], fail={0: 2})
    with pytest.raises(ClientError, match="InternalServerError"):
        run_backup(
            client(table),
            store,
            "ledger",
            options=BackupOptions(total_segments=1, page_size=3, max_file_bytes=1),
            scan_pages=table,
        )
    assert "could not delete the data files of the failed invocation" in caplog.text
    assert not any(key.endswith("manifest.json") for key in files_on_disk(store))


def test_a_finished_backup_whose_tidying_fails_is_still_complete(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = UndeletableStore(tmp_path / "store")
    table = ledger([items(0, 7)])
    paused = paused_backup(store, table, segments=1)
    result = resume_backup(client(table), store, paused.checkpoint_key, scan_pages=table)
    assert isinstance(result, BackupResult)
    assert result.item_count == 7
    assert store.exists(MANIFEST)
    assert store.exists(paused.checkpoint_key)  # left behind; never listed, expired by the lifecycle
    assert "could not delete checkpoints and unlisted data files" in caplog.text


# --- pause and resume --------------------------------------------------------------------------


def paused_backup(store: RecordingStore, table: ScanTable, segments: int = 2) -> BackupInProgress:
    paused = start_backup(
        client(table),
        store,
        "ledger",
        options=BackupOptions(total_segments=segments, page_size=3),
        now=lambda: NOW,
        should_pause=lambda: True,  # every segment stops after its first page
        invocation_id="inv1",
        scan_pages=table,
    )
    assert isinstance(paused, BackupInProgress)
    return paused


def test_a_pause_writes_a_checkpoint_and_no_manifest(store: RecordingStore) -> None:
    table = ledger([items(0, 7), items(100, 5)])
    paused = paused_backup(store, table)
    assert paused.table_name == "ledger"
    assert paused.checkpoint_key == FOLDER + "progress/checkpoint-0001-inv1.json"
    assert paused.location == store.location(paused.checkpoint_key)
    assert paused.items_so_far == 6
    assert paused.invocations == 1
    assert not store.exists(MANIFEST)
    assert files_on_disk(store) == [
        FOLDER + "data/segment-0000-part-0000-inv1.json.gz",
        FOLDER + "data/segment-0001-part-0000-inv1.json.gz",
        paused.checkpoint_key,
    ]
    progress = BackupProgress.from_json_bytes(store.get(paused.checkpoint_key), "checkpoint")
    assert progress.folder == FOLDER
    assert progress.started_at == NOW.isoformat()
    assert [s.done for s in progress.segments] == [False, False]
    assert [s.start_key for s in progress.segments] == [{"pk": item(2)["pk"]}, {"pk": item(102)["pk"]}]
    assert [[f.item_count for f in s.files] for s in progress.segments] == [[3], [3]]


def test_pause_after_some_pages_of_one_segment(store: RecordingStore) -> None:
    table = ledger([items(0, 10)])
    paused = start_backup(
        client(table),
        store,
        "ledger",
        options=BackupOptions(total_segments=1, page_size=2),
        now=lambda: NOW,
        should_pause=pause_after(3),
        scan_pages=table,
    )
    assert isinstance(paused, BackupInProgress)
    assert paused.items_so_far == 6
    assert len(table.pages_served) == 3
    assert not store.exists(MANIFEST)


def test_resume_finishes_the_backup_with_every_item_once(store: RecordingStore) -> None:
    table = ledger([items(0, 7), items(100, 5)])
    paused = paused_backup(store, table)
    first_requests = len(table.scan_requests)
    result = resume_backup(
        client(table), store, paused.checkpoint_key, now=lambda: NOW, invocation_id="inv2", scan_pages=table
    )
    assert isinstance(result, BackupResult)
    assert result.manifest_key == MANIFEST
    assert result.item_count == 12
    assert result.invocations == 2
    assert result.started_at == NOW.isoformat()  # the first invocation's start
    resumed = table.scan_requests[first_requests:]
    assert sorted((r["Segment"], r["ExclusiveStartKey"]["pk"]["S"]) for r in resumed) == [
        (0, "book-0002"),
        (1, "book-0102"),
    ]
    found = backed_up_items(store)
    assert sorted(found) == [
        "data/segment-0000-part-0000-inv1.json.gz",
        "data/segment-0000-part-0001-inv2.json.gz",
        "data/segment-0001-part-0000-inv1.json.gz",
        "data/segment-0001-part-0001-inv2.json.gz",
    ]
    assert [i for _, v in sorted(found.items()) for i in v] == items(0, 7) + items(100, 5)
    assert not store.exists(paused.checkpoint_key)  # tidied up
    assert files_on_disk(store) == sorted([MANIFEST, *(FOLDER + k for k in found)])


def test_a_finished_segment_is_not_scanned_again(store: RecordingStore) -> None:
    table = ledger([items(0, 2), items(100, 8)])  # segment 0 ends within its first page
    paused = paused_backup(store, table)
    progress = BackupProgress.from_json_bytes(store.get(paused.checkpoint_key), "checkpoint")
    assert [s.done for s in progress.segments] == [True, False]
    before = len(table.scan_requests)
    result = resume_backup(client(table), store, paused.checkpoint_key, scan_pages=table)
    assert isinstance(result, BackupResult)
    assert [r["Segment"] for r in table.scan_requests[before:]] == [1]
    assert result.item_count == 10


def test_a_resume_can_pause_again(store: RecordingStore) -> None:
    table = ledger([items(0, 9)])
    paused = paused_backup(store, table, segments=1)
    again = resume_backup(
        client(table),
        store,
        paused.checkpoint_key,
        should_pause=lambda: True,
        invocation_id="i2",
        scan_pages=table,
    )
    assert isinstance(again, BackupInProgress)
    assert again.checkpoint_key == FOLDER + "progress/checkpoint-0002-i2.json"
    assert again.items_so_far == 6
    assert again.invocations == 2
    done = resume_backup(client(table), store, again.checkpoint_key, invocation_id="i3", scan_pages=table)
    assert isinstance(done, BackupResult)
    assert done.invocations == 3
    assert done.item_count == 9
    assert [i for _, v in sorted(backed_up_items(store).items()) for i in v] == items(0, 9)
    assert not any("/progress/" in key for key in files_on_disk(store))


def test_resume_keeps_the_checkpoints_segments_and_page_size(store: RecordingStore) -> None:
    table = ledger([items(0, 7), items(100, 5)])
    paused = paused_backup(store, table)  # 2 segments, pages of 3
    before = len(table.scan_requests)
    result = resume_backup(
        client(table),
        store,
        paused.checkpoint_key,
        options=BackupOptions(total_segments=8, page_size=50),
        scan_pages=table,
    )
    assert isinstance(result, BackupResult)
    assert {(r["TotalSegments"], r["Limit"]) for r in table.scan_requests[before:]} == {(2, 3)}
    assert read_manifest(store).total_segments == 2
    assert result.item_count == 12


def test_a_failed_continuation_keeps_the_earlier_files_and_can_be_retried(store: RecordingStore) -> None:
    table = ledger([items(0, 7), items(100, 5)])
    paused = paused_backup(store, table)
    kept = files_on_disk(store)
    table.fail = {0: 1}  # the continuation's segment 0 fails on its second page
    with pytest.raises(ClientError):
        resume_backup(
            client(table),
            store,
            paused.checkpoint_key,
            options=BackupOptions(max_file_bytes=1),
            invocation_id="dies",
            scan_pages=table,
        )
    assert any(event == "commit" and "-dies." in key for event, key in store.events)
    assert files_on_disk(store) == kept  # only the failed invocation's own files are gone
    assert not store.exists(MANIFEST)
    table.fail = {}
    retried = resume_backup(
        client(table), store, paused.checkpoint_key, invocation_id="retry", scan_pages=table
    )
    assert isinstance(retried, BackupResult)
    assert retried.item_count == 12
    assert [i for _, v in sorted(backed_up_items(store).items()) for i in v] == items(0, 7) + items(100, 5)
    assert not any("-dies." in key for key in files_on_disk(store))


def test_resuming_a_checkpoint_a_twin_already_finished_returns_that_backup(store: RecordingStore) -> None:
    table = ledger([items(0, 7), items(100, 5)])
    paused = paused_backup(store, table)
    first = resume_backup(client(table), store, paused.checkpoint_key, invocation_id="a", scan_pages=table)
    assert isinstance(first, BackupResult)
    files_before = files_on_disk(store)
    requests_before = len(table.scan_requests)
    twin = resume_backup(client(table), store, paused.checkpoint_key, invocation_id="b", scan_pages=table)
    assert isinstance(twin, BackupResult)
    assert (twin.manifest_key, twin.item_count, twin.file_count, twin.started_at) == (
        first.manifest_key,
        first.item_count,
        first.file_count,
        first.started_at,
    )
    assert len(table.scan_requests) == requests_before  # nothing scanned again
    assert files_on_disk(store) == files_before


def test_a_twin_finishing_second_adopts_the_first_manifest_and_drops_its_own_files(
    store: RecordingStore,
) -> None:
    table = ledger([items(0, 7), items(100, 5)])
    paused = paused_backup(store, table)
    checkpoint = store.get(paused.checkpoint_key)
    first = resume_backup(client(table), store, paused.checkpoint_key, invocation_id="a", scan_pages=table)
    manifest_bytes = store.get(MANIFEST)
    store.put(paused.checkpoint_key, checkpoint)  # the twin started before the first one tidied up
    twin = resume_backup(client(table), store, paused.checkpoint_key, invocation_id="b", scan_pages=table)
    assert isinstance(first, BackupResult)
    assert isinstance(twin, BackupResult)
    assert twin.item_count == first.item_count == 12
    assert twin.file_count == first.file_count
    assert store.get(MANIFEST) == manifest_bytes  # the first manifest stands
    on_disk = files_on_disk(store)
    assert not any("-b.json.gz" in key for key in on_disk)  # the twin's files are gone
    assert not any("/progress/" in key for key in on_disk)
    assert on_disk == sorted([MANIFEST, *(FOLDER + f.key for f in read_manifest(store).files)])
    assert [i for _, v in sorted(backed_up_items(store).items()) for i in v] == items(0, 7) + items(100, 5)


def test_a_missing_checkpoint_of_an_unfinished_backup_is_not_found(store: RecordingStore) -> None:
    with pytest.raises(BackupNotFound):
        resume_backup(client(ledger([[]])), store, FOLDER + "progress/checkpoint-0001-x.json")


def test_a_checkpoint_from_another_folder_is_refused(store: RecordingStore) -> None:
    table = ledger([items(0, 7)])
    paused = paused_backup(store, table, segments=1)
    elsewhere = "backups/ledger/2026-11-26T03-00-00.000Z/progress/checkpoint-0001-inv1.json"
    store.put(elsewhere, store.get(paused.checkpoint_key))
    with pytest.raises(CorruptBackup, match="belongs to another folder"):
        resume_backup(client(table), store, elsewhere, scan_pages=table)


def test_a_corrupt_checkpoint_is_refused_naming_it(store: RecordingStore) -> None:
    key = FOLDER + "progress/checkpoint-0001-x.json"
    store.put(key, b"{oops")
    with pytest.raises(CorruptBackup, match=r"checkpoint .*checkpoint-0001-x\.json is unreadable"):
        resume_backup(client(ledger([[]])), store, key)


# --- the Scan fast path: item texts straight into the lines ------------------------------------


def test_pages_that_carry_item_texts_are_written_as_they_are(store: RecordingStore) -> None:
    texts = ['{"pk":{"S":"a"},  "n":{"N":"1.50"}}', '{"pk":{"S":"b"},"b":{"B":"AP8="}}']

    def as_texts(segment: int, chunk: list[Item]) -> dict[str, Any]:
        return {"Items": [], "texts": texts if chunk else []}

    table = ledger([[{"pk": {"S": "a"}}, {"pk": {"S": "b"}}]], page_hook=as_texts)
    result = run_backup(
        client(table),
        store,
        "ledger",
        options=BackupOptions(total_segments=1),
        now=lambda: NOW,
        scan_pages=table,
    )
    (entry,) = read_manifest(store).files
    data = gzip.decompress(store.get(FOLDER + entry.key))
    assert (
        data == b'{"Item":{"pk":{"S":"a"},  "n":{"N":"1.50"}}}\n{"Item":{"pk":{"S":"b"},"b":{"B":"AP8="}}}\n'
    )
    assert result.item_count == 2


class _Raw:
    def __init__(self, body: bytes) -> None:
        self.body = body

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self.body


class DynamoDBOverHttp:
    """Answers DescribeTable, DescribeTimeToLive and Scan as DynamoDB's HTTP API does, from raw texts."""

    def __init__(self, scan_pages: list[str]) -> None:
        self.scan_pages = scan_pages
        self.scans: list[dict[str, Any]] = []

    def __call__(self, request: AWSPreparedRequest, **_: Any) -> AWSResponse:
        target = request.headers["X-Amz-Target"]
        target = target.decode() if isinstance(target, bytes) else target
        body = json.loads(cast(bytes, request.body))
        if target.endswith(".DescribeTable"):
            answer = json.dumps({"Table": table_description(body["TableName"])})
        elif target.endswith(".DescribeTimeToLive"):
            answer = '{"TimeToLiveDescription":{"TimeToLiveStatus":"DISABLED"}}'
        elif target.endswith(".Scan"):
            self.scans.append(body)
            answer = self.scan_pages[len(self.scans) - 1]
        else:  # pragma: no cover - the backup calls nothing else
            raise AssertionError(target)
        headers: Any = {"Content-Type": "application/x-amz-json-1.0", "x-amzn-RequestId": "r"}
        return AWSResponse(request.url, 200, headers, _Raw(answer.encode("utf-8")))

    def serving(self) -> tuple["DynamoDBClient", TextScanner]:
        """The project's client and its TextScanner (which scans through its own client), both served here."""
        dynamodb = dynamodb_client()
        scanner = TextScanner(dynamodb)
        self.install(dynamodb)
        self.install(scanner.client)
        return dynamodb, scanner

    def install(self, dynamodb: "DynamoDBClient") -> None:
        """Answer every request of this client: botocore sends nothing when before-send returns a response."""
        dynamodb.meta.events.register("before-send.dynamodb", self)  # type: ignore[arg-type]  # stubs: -> None


@pytest.fixture
def fresh_aws_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A default boto3 session built from fake credentials only, never from the machine's settings."""
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)


@pytest.mark.usefixtures("fresh_aws_env")
def test_a_real_client_copies_the_item_texts_of_the_response_into_the_lines(store: RecordingStore) -> None:
    item_a = '{"pk":{"S":"a"} , "n":{"N":"12345678901234567890123456789012345678"},"u":{"S":"日本 \\u00e9"}}'
    item_b = '{"pk":{"S":"b"},"bin":{"B":"AP8Q"},"bs":{"BS":["AQ==","Ag=="]}}'
    item_c = '{"pk":{"S":"c"},"m":{"M":{"Items":{"L":[{"S":"]},{"}]}}}}'
    http = DynamoDBOverHttp(
        [
            f'{{"Count":2,"Items":[{item_a},{item_b}],"LastEvaluatedKey":{{"pk":{{"S":"b"}}}},"ScannedCount":2}}',
            f'{{"Items":[ {item_c} ],"Count":1,"ScannedCount":1}}',
        ]
    )
    dynamodb, scanner = http.serving()
    result = run_backup(
        dynamodb,
        store,
        "ledger",
        options=BackupOptions(total_segments=1, page_size=2),
        now=lambda: NOW,
        scan_pages=scanner,
    )
    assert result.item_count == 3
    (entry,) = read_manifest(store).files
    lines = gzip.decompress(store.get(FOLDER + entry.key)).decode("utf-8").splitlines()
    assert lines == [f'{{"Item":{text}}}' for text in (item_a, item_b, item_c)]  # byte for byte as sent
    assert [loads_items_json(line)["Item"]["pk"]["S"] for line in lines] == ["a", "b", "c"]
    assert http.scans == [
        {"TableName": "ledger", "Segment": 0, "TotalSegments": 1, "ConsistentRead": True, "Limit": 2},
        {
            "TableName": "ledger",
            "Segment": 0,
            "TotalSegments": 1,
            "ConsistentRead": True,
            "Limit": 2,
            "ExclusiveStartKey": {"pk": {"S": "b"}},
        },
    ]


@pytest.mark.usefixtures("fresh_aws_env")
def test_a_real_client_resumes_after_a_binary_start_key(store: RecordingStore) -> None:
    page = '{"Count":1,"Items":[{"pk":{"B":"AP8="}}],"LastEvaluatedKey":{"pk":{"B":"AP8="}},"ScannedCount":1}'
    http = DynamoDBOverHttp([page, '{"Count":0,"Items":[],"ScannedCount":0}'])
    dynamodb, scanner = http.serving()
    paused = start_backup(
        dynamodb,
        store,
        "ledger",
        options=BackupOptions(total_segments=1, page_size=1),
        now=lambda: NOW,
        should_pause=lambda: True,
        scan_pages=scanner,
    )
    assert isinstance(paused, BackupInProgress)
    done = resume_backup(dynamodb, store, paused.checkpoint_key, scan_pages=scanner)
    assert isinstance(done, BackupResult)
    assert done.item_count == 1
    assert http.scans[1]["ExclusiveStartKey"] == {"pk": {"B": "AP8="}}  # the same bytes, sent again
    assert encode_item({"pk": {"B": b"\x00\xff"}}) == '{"pk":{"B":"AP8="}}'
