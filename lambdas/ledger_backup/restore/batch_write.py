"""Write items with BatchWriteItem from several threads, so that the later write of a key always wins.

A source may hold one key twice (a hand-edited scan file); the later copy must be the one
left in the table, whatever the number of threads. So every key has a *lane*: a stable hash
of its key picks one of `threads` lanes, each served by one thread that sends its batches
strictly one after another (UnprocessedItems retries included). Two writes of one key are
therefore sent in the order they were given, while different keys spread evenly over the
lanes and are written in parallel. Memory stays bounded: each lane holds the batch being
filled and at most `QUEUED_PER_LANE` full batches besides the one being sent; `put` waits
when its lane is full.

botocore's retry mode already retries throttled and failed *calls*; what it cannot see is a
successful call that returns UnprocessedItems, so those are resent here with exponential
backoff and full jitter.

Each write request travels as JSON text: a backup line is already a PutRequest and is sent
as it was stored (codec.put_request_from_line), any other item is encoded once by the json
module; botocore's serializer never walks the items (aws.write_json.TextBatchSender).
"""

import queue
import random
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal, InvalidOperation
from types import TracebackType
from typing import Any, Protocol

from ledger_backup.codec import Item, encode_put_request, encode_write_request, put_request_from_line
from ledger_backup.errors import CorruptBackup, LedgerBackupError
from ledger_backup.rate_limit import RateLimiter, Unlimited

BATCH_SIZE = 25  # BatchWriteItem's limit
QUEUED_PER_LANE = 2  # full batches waiting behind the one a lane is sending: absorbs uneven call times

Key = tuple[Any, ...]


class BatchSender(Protocol):
    """Sends one BatchWriteItem of JSON write requests: `aws.write_json.TextBatchSender(client).send`."""

    def __call__(self, table_name: str, write_requests: Sequence[bytes], /) -> Mapping[str, Any]: ...


class WriteFailed(LedgerBackupError):
    """DynamoDB kept refusing some items after every retry."""


class _Stop:
    """Queued last on a lane: its thread ends once everything before it is done."""


_STOP = _Stop()
# What a lane's queue carries: a batch to send, an event to set once all before it is done, or the end.
_Work = list[bytes] | threading.Event | _Stop


class _Lane:
    """One thread's share of the keys: a batch being filled, then a queue its thread sends in order.

    The batch and its keys are touched only by the thread that calls `put`; the counters only
    by the lane's own thread, so neither needs a lock.
    """

    def __init__(self, writer: "ParallelBatchWriter", number: int) -> None:
        self.batch: list[bytes] = []
        self.batch_keys: set[Key] = set()
        self.work: queue.Queue[_Work] = queue.Queue(maxsize=QUEUED_PER_LANE)
        self.items_written = 0
        self.unprocessed_retries = 0
        self._writer = writer
        self.thread = threading.Thread(target=self._run, name=f"batch-write-{number}", daemon=True)

    def _run(self) -> None:
        while True:
            work = self.work.get()
            if isinstance(work, _Stop):
                return
            if isinstance(work, threading.Event):
                work.set()
                continue
            # Once any lane failed, or the block was left by an exception, what is queued is dropped:
            # the restore has failed, and draining keeps `put` and `flush` from waiting forever.
            if self._writer.failure is not None or self._writer.abandoned:
                continue
            try:
                self.items_written += self._writer.write_batch(self, work)
            except BaseException as error:  # handed to the caller by flush/close
                self._writer.record_failure(error)


class ParallelBatchWriter:
    """Use as a context manager: `put()` or `delete()` items, and leaving the block waits for every write."""

    def __init__(
        self,
        send: BatchSender,
        table_name: str,
        key_names: Sequence[str],
        *,
        threads: int = 4,
        max_unprocessed_retries: int = 15,
        base_delay: float = 0.05,
        max_delay: float = 10.0,
        sleep: Callable[[float], None] = time.sleep,
        limiter: RateLimiter | Unlimited | None = None,
    ) -> None:
        if threads < 1:
            raise ValueError("threads must be at least 1")
        self._send_requests = send
        self.table_name = table_name
        self.key_names = tuple(key_names)
        self.max_unprocessed_retries = max_unprocessed_retries
        self.base_delay = base_delay
        self.max_delay = max_delay
        self._sleep = sleep
        self._limiter = limiter or Unlimited()
        self._failure_lock = threading.Lock()
        self.failure: BaseException | None = None  # the first error any lane met
        self.abandoned = False  # the `with` block was left by an exception: nothing more is sent
        self._closed = False
        self._lanes = [_Lane(self, number) for number in range(threads)]
        self._next_lane = 0  # put_unique's turn
        for lane in self._lanes:
            lane.thread.start()

    @property
    def items_written(self) -> int:
        """Items DynamoDB has accepted so far (exact once `flush` or `close` returned)."""
        return sum(lane.items_written for lane in self._lanes)

    @property
    def unprocessed_retries(self) -> int:
        """BatchWriteItem calls made again for the UnprocessedItems of an earlier call."""
        return sum(lane.unprocessed_retries for lane in self._lanes)

    def __enter__(self) -> "ParallelBatchWriter":
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abandoned = True
            self._stop_lanes()

    def put(self, item: Item, stored_line: bytes | None = None) -> None:
        """Queue one item; it is sent once its lane's batch of 25 is full (or on flush/close).

        `stored_line` is the item's `{"Item": ...}` line when the caller has it (see
        codec.decode_stored_line): it is sent as it is; otherwise the item is encoded here.
        """
        key = self._key_of(item)
        request = put_request_from_line(stored_line) if stored_line is not None else encode_put_request(item)
        self._add(key, request)

    def put_unique(self, stored_line: bytes) -> None:
        """Queue one stored `{"Item": ...}` line of a source proven to hold each key once.

        With no key twice there is no order between writes to keep, so the item's key is not
        looked at: lanes take the lines in turn, and the line is never parsed here. Only for
        sources whose verify pass found no duplicate key and every line a PutRequest
        (RestoreProgress.lines_are_requests).
        """
        self._check_open()
        self._raise_if_failed()
        lane = self._lanes[self._next_lane]
        self._next_lane = (self._next_lane + 1) % len(self._lanes)
        lane.batch.append(put_request_from_line(stored_line))
        if len(lane.batch) == BATCH_SIZE:
            self._enqueue(lane)

    def delete(self, key: Item) -> None:
        """Queue a DeleteRequest for `key` (the key attributes; others are ignored), in order with puts."""
        key_item = self._key_attributes(key)
        self._add(self._key_of(key_item), encode_write_request({"DeleteRequest": {"Key": key_item}}))

    def flush(self) -> None:
        """Send the partial batches and wait until every item put so far is written (or failed)."""
        self._check_open()
        done: list[threading.Event] = []
        for lane in self._lanes:
            if lane.batch:
                self._enqueue(lane)
            event = threading.Event()
            lane.work.put(event)
            done.append(event)
        for event in done:
            event.wait()
        self._raise_if_failed()

    def close(self) -> None:
        """Send what is left, wait for every batch, and raise the first failure, if any."""
        if self._closed:
            self._raise_if_failed()
            return
        for lane in self._lanes:
            if lane.batch:
                self._enqueue(lane)
        self._stop_lanes()
        self._raise_if_failed()

    def record_failure(self, error: BaseException) -> None:
        """Keep the first error of any lane; flush, close and the next put raise it."""
        with self._failure_lock:
            if self.failure is None:
                self.failure = error

    def write_batch(self, lane: _Lane, requests: list[bytes]) -> int:
        """Send one batch and resend what DynamoDB leaves unprocessed, until all of it is written."""
        total = len(requests)
        attempt = 0
        while True:
            response = self._send_requests(self.table_name, requests)
            unprocessed = response.get("UnprocessedItems", {}).get(self.table_name, [])
            if not unprocessed:
                return total
            # Sent again as DynamoDB returned them; botocore decoded B/BS to bytes, encode_item handles that.
            requests = [encode_write_request(request) for request in unprocessed]
            attempt += 1
            lane.unprocessed_retries += 1
            if attempt > self.max_unprocessed_retries:
                raise WriteFailed(
                    f"DynamoDB left {len(requests)} item(s) unprocessed in table {self.table_name!r} "
                    f"after {self.max_unprocessed_retries} retries (the table is throttled); "
                    "run the restore again with overwrite=true to finish it"
                )
            # Full jitter: spread the retries of all threads over the whole backoff window.
            self._sleep(random.uniform(0, min(self.max_delay, self.base_delay * 2**attempt)))  # noqa: S311

    def _key_attributes(self, item: Item) -> Item:
        try:
            return {name: item[name] for name in self.key_names}
        except (KeyError, TypeError) as exc:
            raise CorruptBackup(f"an item lacks a valid key attribute ({', '.join(self.key_names)})") from exc

    def _key_of(self, item: Item) -> Key:
        """The key as DynamoDB compares it: numbers by value, so "1" and "1.0" are one key."""
        try:
            key = tuple(next(iter(item[name].items())) for name in self.key_names)
            return tuple((kind, Decimal(value)) if kind == "N" else (kind, value) for kind, value in key)
        except (KeyError, AttributeError, StopIteration, TypeError, InvalidOperation) as exc:
            raise CorruptBackup(f"an item lacks a valid key attribute ({', '.join(self.key_names)})") from exc

    def _add(self, key: Key, request: bytes) -> None:
        self._check_open()
        self._raise_if_failed()
        try:
            lane = self._lanes[hash(key) % len(self._lanes)]  # hash() is stable for the process's life
        except TypeError as exc:  # an unhashable value, e.g. a list where a string belongs
            raise CorruptBackup(f"an item lacks a valid key attribute ({', '.join(self.key_names)})") from exc
        if key in lane.batch_keys:
            # BatchWriteItem refuses two writes to one key in one batch; the later must win: send in order.
            self._enqueue(lane)
        lane.batch.append(request)
        lane.batch_keys.add(key)
        if len(lane.batch) == BATCH_SIZE:
            self._enqueue(lane)

    def _enqueue(self, lane: _Lane) -> None:
        """Hand the lane's batch to its thread; waits while the lane already has enough queued."""
        batch, lane.batch, lane.batch_keys = lane.batch, [], set()
        self._limiter.acquire(len(batch))
        lane.work.put(batch)

    def _stop_lanes(self) -> None:
        if self._closed:
            return
        self._closed = True
        for lane in self._lanes:
            lane.work.put(_STOP)
        for lane in self._lanes:
            lane.thread.join()

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError("this ParallelBatchWriter is closed: make a new one to write more")

    def _raise_if_failed(self) -> None:
        if self.failure is not None:
            raise self.failure
