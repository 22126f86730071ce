"""Parallel BatchWriteItem: everything is written once, unprocessed items are resent, duplicates split,
and the later write of a key wins whatever the number of threads.

DynamoDB Local never returns UnprocessedItems and answers in a steady rhythm, so this narrow
unit uses stand-in clients: one that answers like DynamoDB does when it is throttled, one that
also takes a random few milliseconds per call (so batches of different threads overtake each
other) and applies puts and deletes in the order it receives them.
"""

import json
import random
import threading
import time
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any

import pytest

from ledger_backup.errors import CorruptBackup
from ledger_backup.restore.batch_write import BATCH_SIZE, QUEUED_PER_LANE, ParallelBatchWriter, WriteFailed


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

    recorder: Any = Recorder()
    writer = ParallelBatchWriter(ThrottledDynamoDB().send, "t", ["pk"], threads=1, limiter=recorder)
    for item in items(60):
        writer.put(item)
    writer.close()
    assert charged == [25, 25, 10]

    charged.clear()
    writer = ParallelBatchWriter(ThrottledDynamoDB().send, "t", ["pk"], threads=4, limiter=recorder)
    for item in items(300):
        writer.put(item)
    writer.close()
    assert sum(charged) == 300  # each lane fills its own batches: every item is charged once
    assert max(charged) == 25


def jitter(rng: random.Random, most: float = 0.002) -> Callable[[], None]:
    """A random pause of up to `most` seconds a call: enough for one thread's batch to overtake another's."""
    lock = threading.Lock()

    def pause() -> None:
        with lock:
            seconds = rng.uniform(0, most)
        time.sleep(seconds)

    return pause


class JitteryDynamoDB:
    """Applies each call's puts and deletes in the order it receives them, after an injected delay.

    Keys compare as DynamoDB compares them (numbers by value). With `unprocessed_every=n`,
    every n-th call leaves its last third unprocessed, as a throttled table does.
    """

    def __init__(self, delay: Callable[[], None], unprocessed_every: int = 0) -> None:
        self.delay = delay
        self.unprocessed_every = unprocessed_every
        self.table: dict[tuple[Any, ...], dict[str, Any]] = {}
        self.threads_by_key: dict[tuple[Any, ...], set[str]] = {}
        self.requests: list[dict[str, Any]] = []
        self.calls = 0
        self.left_unprocessed = 0
        self._lock = threading.Lock()

    @staticmethod
    def key_of(key: dict[str, Any]) -> tuple[Any, ...]:
        return tuple(
            (kind, Decimal(value) if kind == "N" else value)
            for name in sorted(key)
            for kind, value in key[name].items()
        )

    def send(self, table: str, write_requests: Sequence[bytes]) -> dict[str, Any]:
        requests = [json.loads(text) for text in write_requests]
        keys = [self.key_of(self._key(r)) for r in requests]
        assert len(set(keys)) == len(keys), "DynamoDB refuses two writes to one key in one batch"
        assert len(requests) <= BATCH_SIZE
        self.delay()
        with self._lock:
            self.calls += 1
            throttled = (
                self.unprocessed_every and self.calls % self.unprocessed_every == 0 and len(requests) > 2
            )
            cut = len(requests) - len(requests) // 3 if throttled else len(requests)
            done, left = requests[:cut], requests[cut:]
            self.left_unprocessed += len(left)
            for request, key in zip(done, keys, strict=False):
                self.requests.append(request)
                self.threads_by_key.setdefault(key, set()).add(threading.current_thread().name)
                if "PutRequest" in request:
                    self.table[key] = request["PutRequest"]["Item"]
                else:
                    self.table.pop(key, None)
        return {"UnprocessedItems": {table: left} if left else {}}

    @staticmethod
    def _key(request: dict[str, Any]) -> dict[str, Any]:
        if "PutRequest" in request:
            return {"pk": request["PutRequest"]["Item"]["pk"]}
        key: dict[str, Any] = request["DeleteRequest"]["Key"]
        return key


def duplicated_puts(rng: random.Random, keys: int) -> list[dict[str, Any]]:
    """Every key once, and hundreds again up to four times, each copy within a few batches of the last."""
    placed: list[tuple[float, dict[str, Any]]] = []
    for n in range(keys):
        position = float(n)
        placed.append((position, {"pk": {"S": f"k{n}"}, "copy": {"N": "0"}}))
        if n % 2 == 0:
            for copy in range(1, rng.randint(2, 5)):
                position += rng.uniform(1, 3 * BATCH_SIZE)
                placed.append((position, {"pk": {"S": f"k{n}"}, "copy": {"N": str(copy)}}))
    placed.sort(key=lambda entry: entry[0])
    return [item for _, item in placed]


def last_copies(puts: Sequence[dict[str, Any]]) -> dict[tuple[Any, ...], dict[str, Any]]:
    return {JitteryDynamoDB.key_of({"pk": item["pk"]}): item for item in puts}


@pytest.mark.parametrize("unprocessed_every", [0, 3])
def test_the_last_put_of_every_key_wins_with_8_threads(unprocessed_every: int) -> None:
    rng = random.Random(unprocessed_every)
    puts = duplicated_puts(rng, 800)
    client = JitteryDynamoDB(jitter(rng), unprocessed_every)
    with ParallelBatchWriter(client.send, "t", ["pk"], threads=8, sleep=lambda _: None) as writer:
        for item in puts:
            writer.put(item)
    assert len(puts) - 800 > 500  # hundreds of later copies
    assert writer.items_written == len(puts)
    wrong = {k for k, item in last_copies(puts).items() if client.table[k] != item}
    assert wrong == set()
    assert len(client.table) == 800
    if unprocessed_every:
        assert client.left_unprocessed > 0
        assert writer.unprocessed_retries > 0


def test_each_key_keeps_to_one_thread_and_keys_spread_evenly_over_threads() -> None:
    client = JitteryDynamoDB(lambda: None)
    with ParallelBatchWriter(client.send, "t", ["pk"], threads=8) as writer:
        for item in items(8000):
            writer.put(item)
    assert all(len(threads) == 1 for threads in client.threads_by_key.values())
    per_thread: dict[str, int] = {}
    for threads in client.threads_by_key.values():
        (name,) = threads
        per_thread[name] = per_thread.get(name, 0) + 1
    assert len(per_thread) == 8
    assert all(700 <= count <= 1300 for count in per_thread.values()), per_thread  # 1000 each on average


def test_deletes_and_puts_of_one_key_apply_in_the_order_given() -> None:
    rng = random.Random(11)
    client = JitteryDynamoDB(jitter(rng), unprocessed_every=4)
    expected: dict[tuple[Any, ...], dict[str, Any]] = {}
    with ParallelBatchWriter(client.send, "t", ["pk"], threads=8, sleep=lambda _: None) as writer:
        for step in range(3000):
            pk = {"S": f"k{rng.randrange(300)}"}
            if rng.random() < 0.4:
                writer.delete({"pk": pk, "ignored": {"S": "not part of the key"}})
                expected.pop(JitteryDynamoDB.key_of({"pk": pk}), None)
            else:
                item = {"pk": pk, "step": {"N": str(step)}}
                writer.put(item)
                expected[JitteryDynamoDB.key_of({"pk": pk})] = item
    assert client.table == expected
    deletes = [r for r in client.requests if "DeleteRequest" in r]
    assert deletes
    assert all(r == {"DeleteRequest": {"Key": {"pk": r["DeleteRequest"]["Key"]["pk"]}}} for r in deletes)


def test_a_delete_needs_the_key() -> None:
    writer = ParallelBatchWriter(JitteryDynamoDB(lambda: None).send, "t", ["pk"])
    with pytest.raises(CorruptBackup, match="lacks a valid key attribute"):
        writer.delete({"other": {"S": "x"}})
    writer.close()


def test_numbers_are_one_key_whatever_their_spelling() -> None:
    client = JitteryDynamoDB(jitter(random.Random(3)))
    spellings = ["7", "7.0", "70E-1", "0.7e1"]
    with ParallelBatchWriter(client.send, "t", ["pk"], threads=8) as writer:
        for n, text in enumerate(spellings):
            writer.put({"pk": {"N": text}, "copy": {"N": str(n)}})  # one batch would be refused: split
    assert client.table == {(("N", Decimal(7)),): {"pk": {"N": "0.7e1"}, "copy": {"N": "3"}}}
    assert client.calls == 4


class Boom(Exception):
    pass


class FailsOnKey:
    """Raises on any call holding `poison`; other calls are slowed a little, so lanes are mid-call."""

    def __init__(self, poison: str, delay: Callable[[], None]) -> None:
        self.poison = poison
        self.delay = delay
        self.written = 0
        self._lock = threading.Lock()

    def send(self, table: str, write_requests: Sequence[bytes]) -> dict[str, Any]:
        keys = [json.loads(text)["PutRequest"]["Item"]["pk"]["S"] for text in write_requests]
        if self.poison in keys:
            raise Boom(f"refused {self.poison}")
        self.delay()
        with self._lock:
            self.written += len(keys)
        return {"UnprocessedItems": {}}


@pytest.mark.timeout(20)
def test_an_error_in_one_lane_surfaces_on_flush_and_close_without_hanging() -> None:
    client = FailsOnKey("k100", jitter(random.Random(5), 0.001))
    writer = ParallelBatchWriter(client.send, "t", ["pk"], threads=8)

    def put_all_and_flush() -> None:
        for item in items(400):
            writer.put(item)
        writer.flush()

    with pytest.raises(Boom, match="refused k100"):  # from flush, or from a put once the lane has failed
        put_all_and_flush()
    with pytest.raises(Boom, match="refused k100"):
        writer.close()
    with pytest.raises(Boom, match="refused k100"):
        writer.close()  # closing again still says why


@pytest.mark.timeout(20)
def test_puts_after_a_lane_failed_raise_instead_of_blocking() -> None:
    client = FailsOnKey("k0", lambda: None)
    writer = ParallelBatchWriter(client.send, "t", ["pk"], threads=2)

    def put_all() -> None:
        for item in items(100_000):  # far more than the lanes hold: a stuck lane would block put
            writer.put(item)

    with pytest.raises(Boom, match="refused k0"):
        put_all()
    with pytest.raises(Boom):
        writer.close()
    assert client.written < 100_000


@pytest.mark.timeout(20)
def test_leaving_the_block_by_an_exception_drops_what_is_queued() -> None:
    client = JitteryDynamoDB(lambda: None)
    writer = ParallelBatchWriter(client.send, "t", ["pk"], threads=2)

    def read_and_fail() -> None:
        with writer:
            for item in items(30):
                writer.put(item)
            raise KeyError("the reader failed")

    with pytest.raises(KeyError):
        read_and_fail()
    assert len(client.table) <= 25  # at most the batch already sent; the partial ones were never queued
    with pytest.raises(RuntimeError, match="closed"):
        writer.put(items(1)[0])


@pytest.mark.timeout(20)
def test_put_blocks_when_its_lane_is_full() -> None:
    gate = threading.Event()
    first_call = threading.Event()

    def hold() -> None:
        first_call.set()
        gate.wait()

    client = JitteryDynamoDB(hold)
    writer = ParallelBatchWriter(client.send, "t", ["pk"], threads=1)
    accepted = 0

    def produce() -> None:
        nonlocal accepted
        for item in items(1000):
            writer.put(item)
            accepted += 1

    producer = threading.Thread(target=produce)
    producer.start()
    assert first_call.wait(5)
    # Held: the batch being sent, QUEUED_PER_LANE full batches behind it, and a batch being filled.
    held = BATCH_SIZE * (1 + QUEUED_PER_LANE) + BATCH_SIZE - 1
    deadline = time.monotonic() + 5
    while accepted < held and time.monotonic() < deadline:
        producer.join(0.001)
    producer.join(0.05)
    assert producer.is_alive()
    assert accepted == held
    gate.set()
    producer.join(5)
    writer.close()
    assert accepted == 1000
    assert len(client.table) == 1000
