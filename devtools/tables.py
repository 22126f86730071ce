"""Small table helpers for tests, the demo and the benchmark: create, load, read back."""

from typing import TYPE_CHECKING, Any

from devtools.ledger_items import ledger_items

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


def create_table(dynamodb: "DynamoDBClient", name: str, hash_key: str = "pk", **extra: Any) -> None:
    """An on-demand table with a string hash key (plus whatever CreateTable options `extra` adds)."""
    definitions = [{"AttributeName": hash_key, "AttributeType": "S"}, *extra.pop("AttributeDefinitions", [])]
    dynamodb.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": hash_key, "KeyType": "HASH"}, *extra.pop("KeySchema", [])],
        AttributeDefinitions=definitions,
        BillingMode="PAY_PER_REQUEST",
        **extra,
    )


def create_ledger_table(dynamodb: "DynamoDBClient", name: str, books: int) -> None:
    """A table like the pipeline ledger (hash key ``book_id``) holding ``books`` realistic ledger items."""
    create_table(dynamodb, name, hash_key="book_id")
    load_items(dynamodb, name, list(ledger_items(books)))


def load_items(dynamodb: "DynamoDBClient", table: str, items: list[dict[str, Any]]) -> None:
    for start in range(0, len(items), 25):
        batch = [{"PutRequest": {"Item": item}} for item in items[start : start + 25]]
        dynamodb.batch_write_item(RequestItems={table: batch})  # type: ignore[dict-item]


def scan_all(dynamodb: "DynamoDBClient", table: str, key: str = "pk") -> dict[str, dict[str, Any]]:
    """Every item of a table by its hash key's value, read consistently."""
    items: dict[str, dict[str, Any]] = {}
    for page in dynamodb.get_paginator("scan").paginate(
        TableName=table, ConsistentRead=True, PaginationConfig={"PageSize": 500}
    ):
        for item in page["Items"]:
            items[next(iter(item[key].values()))] = item  # type: ignore[index]
    return items


def drop_table(dynamodb: "DynamoDBClient", table: str) -> None:
    dynamodb.delete_table(TableName=table)
