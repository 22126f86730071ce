"""A live table's items, read the way a check of a restore needs them: consistently, page by page."""

from collections.abc import Iterator
from typing import TYPE_CHECKING

from ledger_backup.backup import scan_page_size
from ledger_backup.codec import Item
from ledger_backup.table_info import require_table

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


def table_items(dynamodb: "DynamoDBClient", table_name: str, page_size: int | None = None) -> Iterator[Item]:
    """Every item of the table by a consistent, paginated Scan with a Limit of about 1 MB of items.

    The Limit does not change what real DynamoDB returns, but DynamoDB Local is quadratic without one.
    """
    table = require_table(dynamodb, table_name)
    pages = dynamodb.get_paginator("scan").paginate(
        TableName=table_name,
        ConsistentRead=True,
        PaginationConfig={"PageSize": page_size or scan_page_size(table)},
    )
    for page in pages:
        yield from page.get("Items", [])
