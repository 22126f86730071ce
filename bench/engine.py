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
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config

from ledger_backup.clients import json_encoded_requests

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


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
    dynamodb: "DynamoDBClient", table: str, segments: int, limit: int, consistent_read: bool = True
) -> RawResult:
    """Scan every segment in its own thread, counting items and dropping them."""

    def scan_segment(segment: int) -> int:
        count = 0
        request: dict[str, Any] = {
            "TableName": table,
            "Segment": segment,
            "TotalSegments": segments,
            "Limit": limit,
            "ConsistentRead": consistent_read,
        }
        while True:
            page = dynamodb.scan(**request)
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


def threaded_batch_write(
    dynamodb: "DynamoDBClient",
    table: str,
    batches: Sequence[list[dict[str, Any]]],
    threads: int,
    *,
    json_encoded: bool = False,
) -> RawResult:
    """Each thread sends every `threads`-th batch; unprocessed items are resent at once.

    `json_encoded` uses our client's json fast path (it needs a client from ledger_backup.clients).
    """
    lock = threading.Lock()
    written = [0]

    def encoding() -> AbstractContextManager[None]:
        return json_encoded_requests() if json_encoded else nullcontext()

    def write_stripe(first: int) -> None:
        done = 0
        for requests in batches[first::threads]:
            pending = requests
            while pending:
                with encoding():
                    response = dynamodb.batch_write_item(RequestItems={table: pending})  # type: ignore[dict-item]
                unprocessed = response.get("UnprocessedItems", {}).get(table, [])
                done += len(pending) - len(unprocessed)
                pending = unprocessed  # type: ignore[assignment]
        with lock:
            written[0] += done

    def run() -> int:
        with ThreadPoolExecutor(max_workers=threads) as pool:
            for future in [pool.submit(write_stripe, n) for n in range(threads)]:
                future.result()
        return written[0]

    return _timed(run)
