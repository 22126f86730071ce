"""Make sure a restore target can take the backup before the first item is written."""

import logging
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from ledger_backup.aws.errors import error_code, retried
from ledger_backup.aws.tables import describe_table
from ledger_backup.errors import InvalidRequest, TableNotFound, TargetNotEmpty
from ledger_backup.schema import TableSchema

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import WaiterConfigTypeDef

logger = logging.getLogger(__name__)

# Up to 10 minutes for a table with many indexes to become ACTIVE.
_WAITER: "WaiterConfigTypeDef" = {"Delay": 2, "MaxAttempts": 300}


def prepare_target(
    dynamodb: "DynamoDBClient", target_table: str, schema: TableSchema, create_table: bool, overwrite: bool
) -> bool:
    """Check (or create) the target; return True when it was created here.

    Refuses, before anything is written: a missing target when create_table is False, a
    target with other keys, a target being deleted, and a non-empty target without overwrite.
    """
    table = describe_table(dynamodb, target_table)
    if table is None:
        if not create_table:
            raise TableNotFound(
                f"target table {target_table!r} does not exist; set create_table to true to create it "
                "from the backup's schema"
            )
        if _create_from_schema(dynamodb, target_table, schema):
            return True
        table = describe_table(dynamodb, target_table)  # created concurrently by someone else
        if table is None:
            raise TableNotFound(f"target table {target_table!r} vanished while it was being created")

    schema.check_compatible(target_table, TableSchema.from_description(table, None))
    if table["TableStatus"] == "DELETING":
        raise InvalidRequest(f"target table {target_table!r} is being deleted")
    if table["TableStatus"] == "CREATING":
        dynamodb.get_waiter("table_exists").wait(TableName=target_table, WaiterConfig=_WAITER)
    if not overwrite and _holds_items(dynamodb, target_table):
        raise TargetNotEmpty(
            f"target table {target_table!r} already holds items; set overwrite to true to write the "
            "backup's items over them (items that are not in the backup are kept)"
        )
    return False


def _holds_items(dynamodb: "DynamoDBClient", table_name: str) -> bool:
    page = dynamodb.scan(TableName=table_name, Limit=1, Select="COUNT", ConsistentRead=True)
    return page.get("Count", 0) > 0 or "LastEvaluatedKey" in page


def _create_from_schema(dynamodb: "DynamoDBClient", table_name: str, schema: TableSchema) -> bool:
    """Create an on-demand table with the backup's keys, indexes and TTL; False if it already existed."""
    try:
        dynamodb.create_table(**schema.create_table_request(table_name))
    except ClientError as exc:
        if error_code(exc) != "ResourceInUseException":
            raise
        if not retried(exc):
            return False  # the table was there before this restore asked: someone else's
        # botocore retried a CreateTable whose first answer was lost: the table is this restore's own.
        logger.warning("CreateTable was retried and met its own table", extra={"table": table_name})
    logger.info("target table created", extra={"table": table_name, "keys": schema.describe_keys()})
    dynamodb.get_waiter("table_exists").wait(TableName=table_name, WaiterConfig=_WAITER)
    if schema.ttl_attribute:
        dynamodb.update_time_to_live(
            TableName=table_name,
            TimeToLiveSpecification={"Enabled": True, "AttributeName": schema.ttl_attribute},
        )
    return True
