"""Write items only where the table lacks their key: one conditional PutItem per item, several threads.

The "missing" restore mode brings back deleted books without touching any book the table still
holds, even one the pipeline writes while the restore runs: each put carries
`attribute_not_exists(<partition key>)`, so DynamoDB itself refuses a put over an item that is
there at the moment of the write (ConditionalCheckFailedException), and that item is counted
as skipped. BatchWriteItem takes no conditions, hence single puts; botocore's retry mode
retries throttled and failed calls.

A key that the source holds twice is written from its first copy, the later copy being
skipped (its key is present by then): in this mode the table's item always wins.
"""

import threading
from concurrent.futures import Future, ThreadPoolExecutor
from types import TracebackType
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from ledger_backup.aws.errors import error_code
from ledger_backup.codec import Item
from ledger_backup.rate_limit import RateLimiter, Unlimited

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

IN_FLIGHT_PER_THREAD = 4  # puts queued per thread: enough to keep each busy, bounded memory


class ConditionalPutWriter:
    """Use as a context manager: `put()` items; leaving the block waits for every put."""

    def __init__(
        self,
        dynamodb: "DynamoDBClient",
        table_name: str,
        hash_key: str,
        *,
        threads: int = 4,
        limiter: RateLimiter | Unlimited | None = None,
    ) -> None:
        if threads < 1:
            raise ValueError("threads must be at least 1")
        self._dynamodb = dynamodb
        self.table_name = table_name
        self._condition: dict[str, Any] = {
            "ConditionExpression": "attribute_not_exists(#key)",
            "ExpressionAttributeNames": {"#key": hash_key},
        }
        self._limiter = limiter or Unlimited()
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="conditional-put")
        self._slots = threading.BoundedSemaphore(threads * IN_FLIGHT_PER_THREAD)
        self._lock = threading.Lock()
        self._pending: set[Future[None]] = set()
        self.items_written = 0
        self.items_skipped = 0  # the table held the key already
        self.failure: BaseException | None = None

    def __enter__(self) -> "ConditionalPutWriter":
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is None:
            self.close()
        else:
            self._pool.shutdown(wait=True, cancel_futures=True)

    def put(self, item: Item, stored_line: bytes | None = None) -> None:
        """Queue one conditional put; waits while the threads have enough in flight."""
        del stored_line  # PutItem takes the item itself
        self._raise_if_failed()
        self._limiter.acquire(1)
        self._slots.acquire()
        future = self._pool.submit(self._put, item)
        with self._lock:
            self._pending.add(future)
        future.add_done_callback(self._done)

    def flush(self) -> None:
        """Wait until every put queued so far is answered; raise the first failure."""
        while True:
            with self._lock:
                pending = list(self._pending)
            if not pending:
                break
            for future in pending:
                future.exception()
        self._raise_if_failed()

    def close(self) -> None:
        try:
            self.flush()
        finally:
            self._pool.shutdown(wait=True)

    def _put(self, item: Item) -> None:
        try:
            self._dynamodb.put_item(TableName=self.table_name, Item=item, **self._condition)
        except ClientError as exc:
            if error_code(exc) != "ConditionalCheckFailedException":
                raise
            with self._lock:
                self.items_skipped += 1
            return
        with self._lock:
            self.items_written += 1

    def _done(self, future: "Future[None]") -> None:
        self._slots.release()
        error = None if future.cancelled() else future.exception()
        with self._lock:
            self._pending.discard(future)
            if error is not None and self.failure is None:
                self.failure = error

    def _raise_if_failed(self) -> None:
        if self.failure is not None:
            raise self.failure
