"""Make sure a restore target can take the backup before the first item is written."""

import logging
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError, WaiterError

from ledger_backup.aws.errors import error_code, retried
from ledger_backup.aws.tables import describe_table
from ledger_backup.contract import CREATED_BY_RESTORE_TAG
from ledger_backup.errors import InvalidRequest, TableNotFound, TargetBusy, TargetNotEmpty
from ledger_backup.schema import TableSchema

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import TagTypeDef, WaiterConfigTypeDef

logger = logging.getLogger(__name__)

# Up to 10 minutes for a table with many indexes to become ACTIVE.
_WAITER: "WaiterConfigTypeDef" = {"Delay": 2, "MaxAttempts": 300}
# A failing restore waits up to a minute for the delete of its table, then answers that it is under way.
_DELETE_WAITER: "WaiterConfigTypeDef" = {"Delay": 2, "MaxAttempts": 30}


def check_target(
    dynamodb: "DynamoDBClient", target_table: str, schema: TableSchema, create_table: bool, overwrite: bool
) -> bool:
    """The cheap refusals, before a long read of the backup: True when the target exists (and may be used).

    A missing target with create_table false, other keys, a table being deleted, or items without
    overwrite cost one DescribeTable and one Scan of one item, not a read of the whole backup.
    prepare_target checks them again right before the first write.
    """
    table = describe_table(dynamodb, target_table)
    if table is None:
        if not create_table:
            raise TableNotFound(_missing(target_table))
        return False
    schema.check_compatible(target_table, TableSchema.from_description(table, None))
    if table["TableStatus"] == "DELETING":
        raise InvalidRequest(f"target table {target_table!r} is being deleted")
    if not overwrite and _holds_items(dynamodb, target_table):
        raise TargetNotEmpty(_not_empty(target_table))
    return True


def _missing(target_table: str) -> str:
    return (
        f"target table {target_table!r} does not exist; set create_table to true to create it "
        "from the backup's schema"
    )


def _not_empty(target_table: str) -> str:
    return (
        f"target table {target_table!r} already holds items; set overwrite to true to write the "
        'backup\'s items over them (items that are not in the backup are kept), or use mode "missing" '
        "to write only the items the table lacks"
    )


def delete_created_table(dynamodb: "DynamoDBClient", target_table: str) -> str:
    """Delete a table this restore created and wrote part of a bad backup into; say what became of it.

    Never raises: the caller is already failing for its input, and the answer says what to do.
    """
    try:
        dynamodb.delete_table(TableName=target_table)
    except ClientError as exc:
        if error_code(exc) == "ResourceNotFoundException":
            return f"the table {target_table!r} this restore created was deleted"
        logger.warning("could not delete the table this restore created", exc_info=True)
        return (
            f"the table {target_table!r} this restore created could not be deleted ({error_code(exc)}): "
            "delete it before restoring into it again"
        )
    try:
        dynamodb.get_waiter("table_not_exists").wait(TableName=target_table, WaiterConfig=_DELETE_WAITER)
    except WaiterError:
        return f"the table {target_table!r} this restore created is being deleted"
    logger.info("created table deleted", extra={"table": target_table})
    return f"the table {target_table!r} this restore created was deleted"


def prepare_target(
    dynamodb: "DynamoDBClient", target_table: str, schema: TableSchema, create_table: bool, overwrite: bool
) -> bool:
    """Check (or create) the target; return True when it was created here.

    Refuses, before anything is written: a missing target when create_table is False, a
    target with other keys, a target being deleted, a non-empty target without overwrite, and
    a target someone else created between this restore's look and its CreateTable.
    """
    table = describe_table(dynamodb, target_table)
    if table is None:
        if not create_table:
            raise TableNotFound(_missing(target_table))
        if _create_from_schema(dynamodb, target_table, schema):
            return True
        table = describe_table(dynamodb, target_table)  # ours whose answer was lost, or someone else's
        if table is None:
            raise TableNotFound(f"target table {target_table!r} vanished while it was being created")

    schema.check_compatible(target_table, TableSchema.from_description(table, None))
    if table["TableStatus"] == "DELETING":
        raise InvalidRequest(f"target table {target_table!r} is being deleted")
    if table["TableStatus"] == "CREATING":
        dynamodb.get_waiter("table_exists").wait(TableName=target_table, WaiterConfig=_WAITER)
    if not overwrite and _holds_items(dynamodb, target_table):
        raise TargetNotEmpty(_not_empty(target_table))
    return False


def _holds_items(dynamodb: "DynamoDBClient", table_name: str) -> bool:
    page = dynamodb.scan(TableName=table_name, Limit=1, Select="COUNT", ConsistentRead=True)
    return page.get("Count", 0) > 0 or "LastEvaluatedKey" in page


def _create_from_schema(dynamodb: "DynamoDBClient", table_name: str, schema: TableSchema) -> bool:
    """Create an on-demand table with the backup's keys, indexes and TTL; False if it may not be ours.

    CreateTable answers ResourceInUseException when the table exists ("You attempted to recreate
    an existing table", https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_CreateTable.html).
    At the first attempt that means someone else created it after our DescribeTable (another
    restore into the same table, e.g. a second CLI run): refused, never written into. After a
    retry by botocore it may be our own create whose answer was lost, or someone else's: the
    caller checks it like any existing target (keys, emptiness) and does not count it as created.
    """
    try:
        tag: TagTypeDef = {"Key": CREATED_BY_RESTORE_TAG["Key"], "Value": CREATED_BY_RESTORE_TAG["Value"]}
        dynamodb.create_table(**schema.create_table_request(table_name), Tags=[tag])
    except ClientError as exc:
        if error_code(exc) != "ResourceInUseException":
            raise
        if not retried(exc):
            raise TargetBusy(
                f"target table {table_name!r} was created by someone else while this restore was about to "
                "create it (another restore into the same table?); nothing was written: let that one "
                "finish, then restore into another table, or into this one with overwrite"
            ) from exc
        logger.warning(
            "CreateTable was retried and met an existing table: checking it like any target",
            extra={"table": table_name},
        )
        return False
    logger.info("target table created", extra={"table": table_name, "keys": schema.describe_keys()})
    dynamodb.get_waiter("table_exists").wait(TableName=table_name, WaiterConfig=_WAITER)
    if schema.ttl_attribute:
        dynamodb.update_time_to_live(
            TableName=table_name,
            TimeToLiveSpecification={"Enabled": True, "AttributeName": schema.ttl_attribute},
        )
    return True
