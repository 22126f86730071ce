"""The data every measurement of one size shares: ledger items, their size, and table helpers.

Items come from devtools.ledger_items, the same realistic ledger records the tests use, and
are built once per run for the largest size (the first N of them are the smaller size: the
generator is deterministic). They are built with the garbage collector off and then frozen,
so collections during the in-process measurements do not scan gigabytes of test data.
"""

import gc
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from devtools.ledger_items import ledger_items
from ledger_backup.codec import encode_line
from ledger_backup.schema import key_schema_from_json

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

HASH_KEY = "book_id"


@dataclass(frozen=True)
class Dataset:
    """`count` ledger items and their size as DynamoDB JSON lines (the unit of every MB/s figure)."""

    items: Sequence[dict[str, Any]]
    json_bytes: int

    @property
    def count(self) -> int:
        return len(self.items)


def build_items(count: int, progress: Any = None) -> list[dict[str, Any]]:
    """The first `count` ledger items, built without GC pauses and then kept out of collections."""
    started = time.monotonic()
    gc.disable()
    try:
        items = list(ledger_items(count))
    finally:
        gc.enable()
    gc.freeze()
    if progress is not None:
        progress(f"built {count:,} ledger items in {time.monotonic() - started:.1f} s")
    return items


def dataset(items: Sequence[dict[str, Any]], count: int) -> Dataset:
    """A prefix of `items`, measured in the bytes its backup lines take (before gzip)."""
    chosen = items[:count]
    size = sum(len(encode_line(item).encode("utf-8")) + 1 for item in chosen)
    return Dataset(chosen, size)


# The key schema create_ledger_table gives, as the restore's checks see it.
LEDGER_SCHEMA = key_schema_from_json([{"AttributeName": HASH_KEY, "KeyType": "HASH", "AttributeType": "S"}])


def create_ledger_table(dynamodb: "DynamoDBClient", name: str) -> None:
    """An on-demand table with the ledger's key, as the runbook's Option 3 creates it."""
    dynamodb.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": HASH_KEY, "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": HASH_KEY, "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    dynamodb.get_waiter("table_exists").wait(TableName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 60})


def drop_table(dynamodb: "DynamoDBClient", name: str) -> None:
    """Free the engine's memory so later measurements see the same amount of stored data."""
    dynamodb.delete_table(TableName=name)
    dynamodb.get_waiter("table_not_exists").wait(TableName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 60})


def count_items(dynamodb: "DynamoDBClient", name: str) -> int:
    """COUNT scan with a Limit (DynamoDB Local's scan is quadratic without one, and slow with a large one)."""
    total = 0
    paginator = dynamodb.get_paginator("scan")
    for page in paginator.paginate(
        TableName=name, Select="COUNT", ConsistentRead=True, PaginationConfig={"PageSize": 500}
    ):
        total += page["Count"]
    return total
