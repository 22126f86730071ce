"""Parallel BatchWriteItem: everything is written once, unprocessed items are resent, duplicates split.

DynamoDB Local never returns UnprocessedItems, so this narrow unit uses a stand-in client
that answers like DynamoDB does when it is throttled.
"""

import json
import threading
from collections.abc import Sequence
from typing import Any

import pytest

from ledger_backup.errors import CorruptBackup
from ledger_backup.restore.batch_write import ParallelBatchWriter, WriteFailed


class ThrottledDynamoDB:
    """Leaves the last `unprocessed` requests of a call unprocessed, `times` times.

    With `always=False` only calls larger than `unprocessed` are throttled, so every resend succeeds.
    """

    def __init__(self, unprocessed: int = 0, times: int = 0, always: bool = False) -> None:
        self.unprocessed = unprocessed
        self.always = always
        self.times = times
        self.calls = 0
        self.stored: dict[str, dict[str, Any]] = {}
        self.batches: list[list[str]] = []
        self._lock = threading.Lock()

    def send(self, table: str, write_requests: Sequence[bytes]) -> dict[str, Any]:
        """What the writer hands to aws.write_json.TextBatchSender.send: each write request as JSON text."""
        requests = [json.loads(text) for text in write_requests]
        keys = [r["PutRequest"]["Item"]["pk"]["S"] for r in requests]
        assert len(set(keys)) == len(keys), "DynamoDB refuses duplicate keys in one batch"
        assert len(requests) <= 25
        with self._lock:
            self.calls += 1
            self.batches.append(keys)
            throttle = self.times > 0 and (self.always or len(requests) > self.unprocessed)
            if throttle:
                self.times -= 1
            done, left = (
                (requests[: -self.unprocessed], requests[-self.unprocessed :]) if throttle else (requests, [])
            )
            for request in done:
                item = request["PutRequest"]["Item"]
                self.stored[item["pk"]["S"]] = item
        return {"UnprocessedItems": {table: left} if left else {}}


def items(count: int, tag: str = "v") -> list[dict[str, Any]]:
    return [{"pk": {"S": f"k{n}"}, "v": {"S": tag}} for n in range(count)]


def test_writes_every_item_in_batches_of_25() -> None:
    client = ThrottledDynamoDB()
    with ParallelBatchWriter(client.send, "t", ["pk"], threads=3) as writer:
        for item in items(1000):
            writer.put(item)
    assert writer.items_written == 1000
    assert len(client.stored) == 1000
    assert max(len(b) for b in client.batches) == 25


def test_unprocessed_items_are_retried_until_written() -> None:
    client = ThrottledDynamoDB(unprocessed=7, times=5)
    delays: list[float] = []
    with ParallelBatchWriter(client.send, "t", ["pk"], threads=2, sleep=delays.append) as writer:
        for item in items(200):
            writer.put(item)
    assert len(client.stored) == 200
    assert writer.items_written == 200
    assert writer.unprocessed_retries == 5
    assert len(delays) == 5
    assert all(0 <= d <= 10.0 for d in delays)


def test_gives_up_with_a_clear_message_when_always_throttled() -> None:
    client: Any = ThrottledDynamoDB(unprocessed=5, times=10_000, always=True)
    writer = ParallelBatchWriter(
        client.send, "t", ["pk"], threads=1, max_unprocessed_retries=3, sleep=lambda _: None
    )
    for item in items(25):
        writer.put(item)
    with pytest.raises(WriteFailed, match=r"left 5 item\(s\) unprocessed in table 't' after 3 retries"):
        writer.close()


def test_duplicate_keys_go_to_separate_batches_and_the_last_wins() -> None:
    client = ThrottledDynamoDB()
    with ParallelBatchWriter(client.send, "t", ["pk"], threads=1) as writer:
        for item in [*items(3, "old"), *items(3, "new")]:
            writer.put(item)
    assert client.batches == [["k0", "k1", "k2"], ["k0", "k1", "k2"]]
    assert {k: v["v"]["S"] for k, v in client.stored.items()} == {"k0": "new", "k1": "new", "k2": "new"}


def test_item_without_key_is_refused() -> None:
    writer = ParallelBatchWriter(ThrottledDynamoDB().send, "t", ["pk"])
    with pytest.raises(CorruptBackup, match="lacks a valid key attribute"):
        writer.put({"other": {"S": "x"}})
    writer.close()


def test_flush_waits_for_every_item_put_so_far() -> None:
    client: Any = ThrottledDynamoDB(unprocessed=3, times=4)
    writer = ParallelBatchWriter(client.send, "t", ["pk"], threads=3, sleep=lambda _: None)
    for item in items(110):  # four full batches and a partial one
        writer.put(item)
    writer.flush()
    assert len(client.stored) == 110
    assert writer.items_written == 110
    writer.put({"pk": {"S": "after-flush"}, "v": {"S": "v"}})
    writer.close()
    assert len(client.stored) == 111


def test_rate_limiter_is_charged_per_batch() -> None:
    charged: list[int] = []

    class Recorder:
        def acquire(self, units: int) -> None:
            charged.append(units)

    writer = ParallelBatchWriter(ThrottledDynamoDB().send, "t", ["pk"], limiter=Recorder())  # type: ignore[arg-type]
    for item in items(60):
        writer.put(item)
    writer.close()
    assert charged == [25, 25, 10]
