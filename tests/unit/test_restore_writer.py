"""The restore writer: from a position to the end or to a pause, checkpointing, counting by position.

DynamoDB is a stand-in at the HTTP level: a real botocore client whose BatchWriteItem requests
are answered in-process, so what is checked is exactly the JSON a restore sends.
"""

import json
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
import pytest
from botocore.awsrequest import AWSPreparedRequest, AWSResponse
from botocore.compat import HTTPHeaders

from ledger_backup.errors import CorruptBackup
from ledger_backup.restore.journal import RestoreInProgress, RestoreJournal, RestoreProgress, RestoreResult
from ledger_backup.restore.writer import RestoreWriter
from ledger_backup.sources import Source
from ledger_backup.storage.stores import LocalStore
from tests.unit.ledger_folders import SCHEMA, Item, items, open_backup

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

PARTS = [items(0, 60), items(60, 40), items(100, 30)]  # 130 items: 5 whole batches of 25, then 5
ALL = [item for part in PARTS for item in part]


class _Body:
    def __init__(self, data: bytes) -> None:
        self.data = data

    def stream(self, **_: Any) -> list[bytes]:
        return [self.data]


class StandInDynamoDB:
    """Answers BatchWriteItem in-process; `written` is every put, in the order they arrived."""

    def __init__(self) -> None:
        self.written: list[Item] = []
        self.batches: list[int] = []
        self._lock = threading.Lock()
        self.client: DynamoDBClient = boto3.client(
            "dynamodb",
            region_name="us-east-1",
            endpoint_url="http://dynamodb.stand-in",
            aws_access_key_id="test",
            aws_secret_access_key="test",  # noqa: S106 - no real account behind it
        )
        # botocore sends the response a before-send handler returns instead of making the call
        self.client.meta.events.register("before-send.dynamodb", self._answer)  # type: ignore[arg-type]

    def _answer(self, request: AWSPreparedRequest, **_: Any) -> AWSResponse:
        target = request.headers["X-Amz-Target"]
        assert target in (b"DynamoDB_20120810.BatchWriteItem", "DynamoDB_20120810.BatchWriteItem"), target
        assert isinstance(request.body, bytes)
        body = json.loads(request.body)
        ((table, requests),) = body["RequestItems"].items()
        assert table == "ledger-r"
        with self._lock:
            self.batches.append(len(requests))
            self.written.extend(r["PutRequest"]["Item"] for r in requests)
        return AWSResponse(request.url, 200, HTTPHeaders(), _Body(b'{"UnprocessedItems":{}}'))

    def keys(self) -> list[str]:
        return sorted(item["pk"]["S"] for item in self.written)


@pytest.fixture
def store(tmp_path: Path) -> LocalStore:
    return LocalStore(tmp_path)


@pytest.fixture
def dynamodb() -> StandInDynamoDB:
    return StandInDynamoDB()


def progress_of(source: Source, **position: Any) -> RestoreProgress:
    fields: dict[str, Any] = {"expected_items": len(ALL), **position}
    return RestoreProgress(
        restore_id="20261125T030000Z-0123abcd",
        source_key=source.key,
        source_location=source.location,
        target_table="ledger-r",
        schema=SCHEMA,
        schema_from="backup",
        table_created=True,
        started_at="2026-11-25T03:00:00+00:00",
        **fields,
    )


def writer(
    dynamodb: StandInDynamoDB,
    source: Source,
    progress: RestoreProgress,
    journal: RestoreJournal | None = None,
    **options: Any,
) -> RestoreWriter:
    return RestoreWriter(dynamodb.client, source, progress, writers=2, journal=journal, **options)


def looks(pause_at: int | None, seen: list[int] | None = None) -> Callable[[], bool]:
    """A pause condition that says "pause" at its `pause_at`-th look (never when None)."""
    count = 0

    def should_pause() -> bool:
        nonlocal count
        count += 1
        if seen is not None:
            seen.append(count)
        return count == pause_at

    return should_pause


def test_without_a_journal_every_item_is_written_once_and_counted(
    store: LocalStore, dynamodb: StandInDynamoDB
) -> None:
    source = open_backup(store, PARTS)
    result = writer(dynamodb, source, progress_of(source)).run()
    assert isinstance(result, RestoreResult)
    assert dynamodb.keys() == sorted(item["pk"]["S"] for item in ALL)
    assert (result.items_restored, result.files, result.invocations) == (130, 3, 1)
    assert (result.source, result.kind, result.target_table) == (source.location, "ledger-backup", "ledger-r")
    assert (result.table_created, result.schema_from, result.restore_id) == (
        True,
        "backup",
        "20261125T030000Z-0123abcd",
    )
    assert result.compressed_bytes == sum(p.stat().st_size for p in store.root.rglob("*.json.gz"))
    # Each of the 2 writer lanes sends full batches of 25 and at most one partial one at the end.
    assert sum(dynamodb.batches) == 130
    assert len([size for size in dynamodb.batches if size < 25]) <= 2


def test_items_go_out_as_they_are_stored(store: LocalStore, dynamodb: StandInDynamoDB) -> None:
    source = open_backup(store, [items(0, 3)])
    writer(dynamodb, source, progress_of(source, expected_items=3)).run()
    assert sorted(dynamodb.written, key=lambda item: item["pk"]["S"]) == [  # lanes: any order across keys
        {"pk": {"S": "k0000"}, "n": {"N": "0"}, "b": {"B": "AA=="}},
        {"pk": {"S": "k0001"}, "n": {"N": "1"}, "b": {"B": "AQ=="}},
        {"pk": {"S": "k0002"}, "n": {"N": "2"}, "b": {"B": "Ag=="}},
    ]


def test_a_restore_carries_on_from_its_position(store: LocalStore, dynamodb: StandInDynamoDB) -> None:
    source = open_backup(store, PARTS)
    position = progress_of(source, part_index=1, item_offset=15, items_restored=75, invocations=2)
    result = writer(dynamodb, source, position).run()
    assert isinstance(result, RestoreResult)
    assert dynamodb.keys() == [f"k{n:04d}" for n in range(75, 130)]  # only what lies after the position
    assert (result.items_restored, result.invocations) == (130, 3)


def test_a_checkpoint_is_saved_once_per_batch_when_due(store: LocalStore, dynamodb: StandInDynamoDB) -> None:
    source = open_backup(store, PARTS)
    journal = RestoreJournal(store, "backups/")
    folder = journal.restore_folder("20261125T030000Z-0123abcd")
    saved: list[int] = []

    def counting_checkpoints() -> bool:  # looked at after every 25th item, before its checkpoint
        saved.append(sum("/checkpoint-" in key for key in store.list_keys(folder)))
        return False

    result = writer(
        dynamodb,
        source,
        progress_of(source),
        journal,
        checkpoint_seconds=0,
        should_pause=counting_checkpoints,
    ).run()
    assert saved == [0, 1, 2, 3, 4]  # 130 items: a look (and then a checkpoint) after each whole batch
    assert isinstance(result, RestoreResult)
    assert list(store.list_keys(folder)) == [f"{folder}result.json"], "checkpoints go once the result is in"
    assert journal.result("20261125T030000Z-0123abcd") == result.to_json()


def test_checkpoints_are_not_saved_before_they_are_due(store: LocalStore, dynamodb: StandInDynamoDB) -> None:
    source = open_backup(store, PARTS)
    journal = RestoreJournal(store, "backups/")
    folder = journal.restore_folder("20261125T030000Z-0123abcd")
    saved: list[int] = []

    def counting_checkpoints() -> bool:
        saved.append(sum("/checkpoint-" in key for key in store.list_keys(folder)))
        return len(saved) == 4

    paused = writer(
        dynamodb,
        source,
        progress_of(source),
        journal,
        checkpoint_seconds=3600,
        should_pause=counting_checkpoints,
    ).run()
    assert saved == [0, 0, 0, 0]
    assert isinstance(paused, RestoreInProgress)
    assert len([k for k in store.list_keys(folder) if "/checkpoint-" in k]) == 1  # the pause's own


def test_a_pause_checkpoints_after_every_earlier_item_is_written(
    store: LocalStore, dynamodb: StandInDynamoDB
) -> None:
    source = open_backup(store, PARTS)
    journal = RestoreJournal(store, "backups/")
    paused = writer(
        dynamodb, source, progress_of(source), journal, should_pause=looks(3), invocation_id="w1"
    ).run()
    assert isinstance(paused, RestoreInProgress)
    assert dynamodb.keys() == [f"k{n:04d}" for n in range(75)]
    assert paused.items_restored == 75
    assert (
        paused.checkpoint_key
        == journal.restore_folder(paused.restore_id) + "checkpoint-000000000075-1-w1.json"
    )
    assert paused.to_json() == {
        "status": "continuing",
        "restore_id": "20261125T030000Z-0123abcd",
        "source": source.location,
        "target_table": "ledger-r",
        "items_restored": 75,
        "expected_items": 130,
        "invocations": 1,
        "started_at": "2026-11-25T03:00:00+00:00",
        "phase": "writing",
        "items_verified": 0,
        "progress": store.location(journal.restore_folder(paused.restore_id)),
    }
    assert journal.status(paused.restore_id) == paused, "the journal reads back the same answer"

    checkpoint = journal.load(paused.checkpoint_key)
    assert (checkpoint.part_index, checkpoint.item_offset) == (1, 15)  # part 0 holds 60 items
    resumed = writer(dynamodb, source, checkpoint, journal).run()
    assert isinstance(resumed, RestoreResult)
    assert (resumed.items_restored, resumed.invocations) == (130, 2)
    assert len(dynamodb.written) == 130, "no item is written twice across the pause"
    assert journal.status(paused.restore_id) == resumed


def test_no_pause_is_looked_for_without_a_journal(store: LocalStore, dynamodb: StandInDynamoDB) -> None:
    source = open_backup(store, PARTS)
    seen: list[int] = []
    result = writer(dynamodb, source, progress_of(source), should_pause=looks(1, seen)).run()
    assert isinstance(result, RestoreResult)
    assert seen == []


def test_a_count_that_disagrees_with_the_verified_one_fails(
    store: LocalStore, dynamodb: StandInDynamoDB
) -> None:
    source = open_backup(store, PARTS)
    with pytest.raises(CorruptBackup) as caught:
        writer(dynamodb, source, progress_of(source, expected_items=131)).run()
    assert str(caught.value) == (
        f"wrote 130 items but {source.location} holds 131: the backup changed while it was being restored"
    )


def test_a_bad_item_met_while_writing_says_how_much_was_written(
    store: LocalStore, dynamodb: StandInDynamoDB
) -> None:
    source = open_backup(store, [items(0, 30), [{"n": {"N": "1"}}]])
    position = progress_of(source, part_index=0, item_offset=10, items_restored=10, expected_items=31)
    with pytest.raises(CorruptBackup) as caught:
        writer(dynamodb, source, position).run()
    assert str(caught.value) == (
        f"{source.parts[1].location}, item 1: the item lacks key attribute pk; 20 items were already "
        "written to 'ledger-r': restore a whole backup over them with overwrite"
    )
