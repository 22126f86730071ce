"""A table as the backup and the checks read it: its description (a clear error when it is missing),
its schema, its items by a consistent, paginated Scan (one segment or several in parallel), and
chosen items by BatchGetItem."""

import contextlib
import queue
import random
import threading
import time
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from botocore.exceptions import ClientError

from ledger_backup.aws.errors import error_code
from ledger_backup.aws.scan_texts import TextScanner
from ledger_backup.codec import Item
from ledger_backup.errors import TableNotFound
from ledger_backup.schema import TableSchema

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import TableDescriptionTypeDef


def describe_table(dynamodb: "DynamoDBClient", table_name: str) -> "TableDescriptionTypeDef | None":
    """DescribeTable's `Table`, or None when the table does not exist."""
    try:
        return dynamodb.describe_table(TableName=table_name)["Table"]
    except ClientError as exc:
        if error_code(exc) == "ResourceNotFoundException":
            return None
        raise


def require_table(dynamodb: "DynamoDBClient", table_name: str) -> "TableDescriptionTypeDef":
    """DescribeTable's `Table`; TableNotFound, naming the table and region, when it does not exist."""
    table = describe_table(dynamodb, table_name)
    if table is None:
        region = dynamodb.meta.region_name
        raise TableNotFound(f"table {table_name!r} does not exist in region {region}")
    return table


def read_schema(dynamodb: "DynamoDBClient", table: "TableDescriptionTypeDef") -> TableSchema:
    """The table's keys, indexes, billing mode and TTL setting."""
    ttl = dynamodb.describe_time_to_live(TableName=table["TableName"]).get("TimeToLiveDescription")
    return TableSchema.from_description(table, ttl)


_SCAN_PAGE_BYTES = 1024 * 1024  # DynamoDB returns at most 1 MB per Scan page anyway


def scan_page_size(table: Mapping[str, Any]) -> int:
    """About 1 MB of items per page, from DescribeTable's `Table` (its size and count are approximate).

    Takes any mapping of that shape, e.g. a plain copy of the description.
    """
    count = int(table.get("ItemCount") or 0)
    size = int(table.get("TableSizeBytes") or 0)
    if count == 0 or size == 0:
        return 1000
    return max(25, min(10_000, _SCAN_PAGE_BYTES * count // size))


def table_items(dynamodb: "DynamoDBClient", table_name: str, page_size: int | None = None) -> Iterator[Item]:
    """Every item of the table by a consistent, paginated Scan with a Limit of about 1 MB of items.

    The Limit does not change what real DynamoDB returns, but DynamoDB Local's Scan is
    quadratic without one.
    """
    table = require_table(dynamodb, table_name)
    pages = dynamodb.get_paginator("scan").paginate(
        TableName=table_name,
        ConsistentRead=True,
        PaginationConfig={"PageSize": page_size or scan_page_size(table)},
    )
    for page in pages:
        yield from page.get("Items", [])


_DONE = object()  # a segment's thread queues it once its last page is in
T = TypeVar("T")


class _SegmentScans(Generic[T]):
    """Threads paging through the segments of one Scan into one bounded queue of pages.

    `pages(arguments)` is one segment's pages (a list of entries each) for its Scan arguments.
    """

    def __init__(
        self, pages: Callable[[dict[str, Any]], Iterable[list[T]]], arguments: dict[str, Any], segments: int
    ) -> None:
        self._pages = pages
        self._arguments = arguments
        self._segments = segments
        self.pages: queue.Queue[Any] = queue.Queue(maxsize=segments)  # about 1 MB of items each
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._scan, args=(n,), daemon=True) for n in range(segments)]

    def _scan(self, segment: int) -> None:
        try:
            arguments = {**self._arguments, "Segment": segment, "TotalSegments": self._segments}
            for page in self._pages(arguments):
                if self._stop.is_set():
                    break
                self.pages.put(page)
            self.pages.put(_DONE)
        except BaseException as exc:  # handed to the reading thread, which raises it
            self.pages.put(exc)

    def entries(self) -> Generator[T, None, None]:
        for thread in self._threads:
            thread.start()
        running = self._segments
        try:
            while running:
                page = self.pages.get()
                if page is _DONE:
                    running -= 1
                elif isinstance(page, BaseException):
                    raise page
                else:
                    yield from page
        finally:
            self._stop.set()
            while any(thread.is_alive() for thread in self._threads):  # let blocked puts through
                with contextlib.suppress(queue.Empty):
                    self.pages.get(timeout=0.05)


def parallel_table_items(
    dynamodb: "DynamoDBClient", table_name: str, segments: int = 4, *, key_names: Sequence[str] | None = None
) -> Generator[Item, None, None]:
    """Every item of the table by a consistent parallel Scan, `segments` threads, pages in any order.

    Each thread pages through its segment (Limit of about 1 MB, as `table_items`) into a queue of
    a few pages, so memory stays bounded while the caller works through the items. `key_names`:
    read only those attributes (the keys, to find what to delete).
    A segment's error is raised here, once the other threads have stopped; closing the generator
    stops the threads too.
    """
    table = require_table(dynamodb, table_name)
    arguments: dict[str, Any] = {
        "TableName": table_name,
        "ConsistentRead": True,
        "PaginationConfig": {"PageSize": scan_page_size(table)},
    }
    arguments.update(_projection(key_names))

    def pages(segment_arguments: dict[str, Any]) -> Iterator[list[Item]]:
        for page in dynamodb.get_paginator("scan").paginate(**segment_arguments):
            yield page.get("Items", [])

    return _SegmentScans(pages, arguments, segments).entries()


def parallel_table_texts(
    dynamodb: "DynamoDBClient", table_name: str, segments: int = 4
) -> Generator[str, None, None]:
    """Every item of the table as its DynamoDB JSON text, by a consistent parallel Scan (as
    `parallel_table_items`, through a TextScanner): the pages are cut into item texts, never decoded,
    so a reader decodes each item on its own (small, short-lived objects) when it needs its value."""
    table = require_table(dynamodb, table_name)
    scanner = TextScanner(dynamodb)
    arguments: dict[str, Any] = {
        "TableName": table_name,
        "ConsistentRead": True,
        "Limit": scan_page_size(table),
    }

    def pages(segment_arguments: dict[str, Any]) -> Iterator[list[str]]:
        for page in scanner.pages(**segment_arguments):
            yield page.texts

    return _SegmentScans(pages, arguments, segments).entries()


_GET_BATCH = 100  # BatchGetItem's limit


def _projection(names: Sequence[str] | None) -> dict[str, Any]:
    """Only these attributes, by placeholders (a key may be named like a reserved word, e.g. status)."""
    if names is None:
        return {}
    return {
        "ProjectionExpression": ", ".join(f"#a{n}" for n in range(len(names))),
        "ExpressionAttributeNames": {f"#a{n}": name for n, name in enumerate(names)},
    }


def table_items_by_key(
    dynamodb: "DynamoDBClient",
    table_name: str,
    keys: Sequence[Item],
    *,
    key_names: Sequence[str] | None = None,
) -> Iterator[Item]:
    """The items of `keys` that the table holds (consistent reads), 100 keys per BatchGetItem.

    `key_names`: read only those attributes.
    UnprocessedKeys (a throttled share of a call that succeeded) are asked again, with backoff.
    """
    for start in range(0, len(keys), _GET_BATCH):
        keys_and_options = {"Keys": list(keys[start : start + _GET_BATCH]), "ConsistentRead": True}
        request: Any = {table_name: {**keys_and_options, **_projection(key_names)}}
        attempt = 0
        while request:
            response = dynamodb.batch_get_item(RequestItems=request)
            yield from response.get("Responses", {}).get(table_name, [])
            request = response.get("UnprocessedKeys") or None
            if request:
                attempt += 1
                time.sleep(random.uniform(0, min(2.0, 0.05 * 2**attempt)))  # noqa: S311
