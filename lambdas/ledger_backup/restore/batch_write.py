"""Write items with BatchWriteItem from several threads, retrying what DynamoDB leaves unprocessed.

botocore's retry mode already retries throttled and failed *calls*; what it cannot see is a
successful call that returns UnprocessedItems, so those are resent here with exponential
backoff and full jitter. Memory stays bounded: at most two batches per thread are in flight.

Each write request travels as JSON text: a backup line is already a PutRequest and is sent
as it was stored (codec.put_request_from_line), any other item is encoded once by the json
module; botocore's serializer never walks the items (aws.write_json.TextBatchSender).
"""

import random
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from types import TracebackType
from typing import Any, Protocol

from ledger_backup.codec import Item, encode_put_request, encode_write_request, put_request_from_line
from ledger_backup.errors import CorruptBackup, LedgerBackupError
from ledger_backup.rate_limit import RateLimiter, Unlimited

BATCH_SIZE = 25  # BatchWriteItem's limit


class BatchSender(Protocol):
    """Sends one BatchWriteItem of JSON write requests: `aws.write_json.TextBatchSender(client).send`."""

    def __call__(self, table_name: str, write_requests: Sequence[bytes], /) -> Mapping[str, Any]: ...


class WriteFailed(LedgerBackupError):
    """DynamoDB kept refusing some items after every retry."""


class ParallelBatchWriter:
    """Use as a context manager: `put()` items, and leaving the block waits for every write."""

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
        self._slots = threads * 2
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="batch-write")
        self._in_flight = threading.BoundedSemaphore(self._slots)
        self._lock = threading.Lock()
        self._batch: list[bytes] = []
        self._batch_keys: set[tuple[Any, ...]] = set()
        self._error: BaseException | None = None
        self.items_written = 0
        self.unprocessed_retries = 0

    def __enter__(self) -> "ParallelBatchWriter":
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is None:
            self.close()
        else:
            self._pool.shutdown(wait=True, cancel_futures=True)

    def put(self, item: Item, stored_line: bytes | None = None) -> None:
        """Queue one item; it is sent once its batch of 25 is full (or on close).

        `stored_line` is the item's `{"Item": ...}` line when the caller has it (see
        codec.decode_stored_line): it is sent as it is; otherwise the item is encoded here.
        """
        try:
            key = tuple(next(iter(item[name].items())) for name in self.key_names)
        except (KeyError, AttributeError, StopIteration) as exc:
            raise CorruptBackup(f"an item lacks a valid key attribute ({', '.join(self.key_names)})") from exc
        if key in self._batch_keys:
            # BatchWriteItem refuses two writes to one key in one batch; the later must win: send in order.
            self._send()
        self._batch.append(
            put_request_from_line(stored_line) if stored_line is not None else encode_put_request(item)
        )
        self._batch_keys.add(key)
        if len(self._batch) == BATCH_SIZE:
            self._send()

    def flush(self) -> None:
        """Send the partial batch and wait until every item put so far is written (or failed)."""
        if self._batch:
            self._send()
        for _ in range(self._slots):
            self._in_flight.acquire()
        for _ in range(self._slots):
            self._in_flight.release()
        self._raise_if_failed()

    def close(self) -> None:
        """Send what is left, wait for every batch, and raise the first failure, if any."""
        if self._batch:
            self._send()
        self._pool.shutdown(wait=True)
        self._raise_if_failed()

    def _raise_if_failed(self) -> None:
        if self._error is not None:
            raise self._error

    def _send(self) -> None:
        self._raise_if_failed()
        batch, self._batch, self._batch_keys = self._batch, [], set()
        self._limiter.acquire(len(batch))
        self._in_flight.acquire()
        future = self._pool.submit(self._write_batch, batch)
        future.add_done_callback(self._batch_done)

    def _batch_done(self, future: Future[int]) -> None:
        self._in_flight.release()
        if future.cancelled():
            return
        error = future.exception()
        with self._lock:
            if error is not None:
                self._error = self._error or error
            else:
                self.items_written += future.result()

    def _write_batch(self, requests: list[bytes]) -> int:
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
            with self._lock:
                self.unprocessed_retries += 1
            if attempt > self.max_unprocessed_retries:
                raise WriteFailed(
                    f"DynamoDB left {len(requests)} item(s) unprocessed in table {self.table_name!r} "
                    f"after {self.max_unprocessed_retries} retries (the table is throttled); "
                    "run the restore again with overwrite=true to finish it"
                )
            # Full jitter: spread the retries of all threads over the whole backoff window.
            self._sleep(random.uniform(0, min(self.max_delay, self.base_delay * 2**attempt)))  # noqa: S311
