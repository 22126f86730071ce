"""Reading a table's description, with a clear error when the table is not there."""

from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from ledger_backup.errors import TableNotFound
from ledger_backup.schema import TableSchema

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


def describe_table(dynamodb: "DynamoDBClient", table_name: str) -> dict[str, Any] | None:
    """DescribeTable's `Table`, or None when the table does not exist."""
    try:
        table: dict[str, Any] = dynamodb.describe_table(TableName=table_name)["Table"]  # type: ignore[assignment]
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
            return None
        raise
    return table


def require_table(dynamodb: "DynamoDBClient", table_name: str) -> dict[str, Any]:
    table = describe_table(dynamodb, table_name)
    if table is None:
        region = dynamodb.meta.region_name
        raise TableNotFound(f"table {table_name!r} does not exist in region {region}")
    return table


def read_schema(dynamodb: "DynamoDBClient", table: dict[str, Any]) -> TableSchema:
    """The table's keys, indexes, billing mode and TTL setting."""
    ttl = dynamodb.describe_time_to_live(TableName=table["TableName"]).get("TimeToLiveDescription")
    return TableSchema.from_description(table, dict(ttl) if ttl else None)
