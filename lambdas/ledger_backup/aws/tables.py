"""A table as the backup and the checks read it: its description (a clear error when it is missing),
its schema, and its items by a consistent, paginated Scan."""

from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from ledger_backup.aws.errors import error_code
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
