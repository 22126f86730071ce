"""The engine's raw limits on this machine, through botocore's low-level client and nothing else.

These are the ceilings our backup and restore are measured against, so they get the best
configuration found, never a weakened one: the same segment/thread counts and Scan Limit as
ours, a shared thread-safe client with enough connections, results discarded, requests
built before the clock starts.
"""

import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import boto3
from botocore.config import Config

from ledger_backup.aws.scan_texts import TextScanner
from ledger_backup.aws.write_json import TextBatchSender
from ledger_backup.codec import encode_put_request, encode_write_request

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


Request = TypeVar("Request")


@dataclass(frozen=True)
class RawResult:
    items: int
    seconds: float
    cpu_seconds: float  # this process's CPU time over the measurement (client side only)


def raw_client(threads: int, *, validate: bool) -> "DynamoDBClient":
    """A client like ours (standard retries, one connection per thread and spare)."""
    config = Config(
        retries={"mode": "standard", "total_max_attempts": 10},
        max_pool_connections=threads * 2,
        parameter_validation=validate,
    )
    return boto3.client("dynamodb", config=config)


def _timed(work: Callable[[], int]) -> RawResult:
    cpu_start, wall_start = time.process_time(), time.perf_counter()
    items = work()
    return RawResult(items, time.perf_counter() - wall_start, time.process_time() - cpu_start)


def parallel_scan(
    dynamodb: "DynamoDBClient",
    table: str,
    segments: int,
    limit: int,
    consistent_read: bool = True,
    *,
    as_text: bool = False,
) -> RawResult:
    """Scan every segment in its own thread, counting items and dropping them.

    `as_text` leaves every item undecoded (aws.scan_texts.TextScanner, as the backup reads
    them): the least client work a Scan can cost, so the closest to the engine's own limit.
    """

    texts = TextScanner(dynamodb) if as_text else None  # built off the clock

    def scan_segment(segment: int) -> int:
        request: dict[str, Any] = {
            "TableName": table,
            "Segment": segment,
            "TotalSegments": segments,
            "Limit": limit,
            "ConsistentRead": consistent_read,
        }
        if texts is not None:
            return sum(len(page.texts) for page in texts.pages(**request))
        count = 0
        while True:
            page: Any = dynamodb.scan(**request)
            count += len(page["Items"])
            if "LastEvaluatedKey" not in page:
                return count
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def run() -> int:
        with ThreadPoolExecutor(max_workers=segments) as pool:
            return sum(pool.map(scan_segment, range(segments)))

    return _timed(run)


def put_batches(items: Sequence[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """BatchWriteItem request lists of 25, built before any clock starts."""
    return [[{"PutRequest": {"Item": item}} for item in items[i : i + 25]] for i in range(0, len(items), 25)]


def put_request_texts(batches: Sequence[list[dict[str, Any]]]) -> list[list[bytes]]:
    """The same batches with each PutRequest encoded as JSON text in advance, off the clock."""
    return [[encode_put_request(request["PutRequest"]["Item"]) for request in batch] for batch in batches]


def threaded_batch_write_texts(
    dynamodb: "DynamoDBClient", table: str, batches: Sequence[list[bytes]], threads: int
) -> RawResult:
    """Like threaded_batch_write, but every request is JSON text already: nothing is encoded on the clock.

    The least client work a write can cost, so the closest to the engine's own limit.
    """

    send_json = TextBatchSender(dynamodb).send

    def send(pending: list[bytes]) -> list[bytes]:
        response = send_json(table, pending)
        unprocessed: list[Any] = response.get("UnprocessedItems", {}).get(table, [])
        return [encode_write_request(request) for request in unprocessed]

    return _striped_writes(batches, threads, send)


def threaded_batch_write(
    dynamodb: "DynamoDBClient",
    table: str,
    batches: Sequence[list[dict[str, Any]]],
    threads: int,
    *,
    json_encoded: bool = False,
) -> RawResult:
    """Each thread sends every `threads`-th batch; unprocessed items are resent at once.

    `json_encoded`: each request is encoded by the json module on the clock (codec.encode_write_request)
    and sent as text (aws.write_json.TextBatchSender), as items the client returned (B/BS as bytes).
    """
    sender = TextBatchSender(dynamodb) if json_encoded else None  # built off the clock

    def send(pending: list[dict[str, Any]]) -> list[dict[str, Any]]:
        if sender is not None:
            response = sender.send(table, [encode_write_request(request) for request in pending])
        else:
            response = dynamodb.batch_write_item(RequestItems={table: pending})  # type: ignore[dict-item]
        unprocessed: list[dict[str, Any]] = response.get("UnprocessedItems", {}).get(table, [])  # type: ignore[assignment]
        return unprocessed

    return _striped_writes(batches, threads, send)


def _striped_writes(
    batches: Sequence[list[Request]], threads: int, send: Callable[[list[Request]], list[Request]]
) -> RawResult:
    """Each thread sends every `threads`-th batch; `send` returns what is left unprocessed, resent at once."""
    lock = threading.Lock()
    written = [0]

    def write_stripe(first: int) -> None:
        done = 0
        for requests in batches[first::threads]:
            pending = requests
            while pending:
                unprocessed = send(pending)
                done += len(pending) - len(unprocessed)
                pending = unprocessed
        with lock:
            written[0] += done

    def run() -> int:
        with ThreadPoolExecutor(max_workers=threads) as pool:
            for future in [pool.submit(write_stripe, n) for n in range(threads)]:
                future.result()
        return written[0]

    return _timed(run)
