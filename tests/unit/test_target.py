"""prepare_target refuses or creates a restore target before the first write, against a stand-in DynamoDB."""

from typing import TYPE_CHECKING, Any, cast

import pytest
from botocore.exceptions import ClientError

from ledger_backup.errors import InvalidRequest, SchemaMismatch, TableNotFound, TargetBusy, TargetNotEmpty
from ledger_backup.restore.target import prepare_target
from ledger_backup.schema import TableSchema

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

SCHEMA = TableSchema(
    key_schema=[{"AttributeName": "book_id", "KeyType": "HASH"}],
    attribute_definitions=[{"AttributeName": "book_id", "AttributeType": "S"}],
)
WITH_TTL = TableSchema(
    key_schema=SCHEMA.key_schema, attribute_definitions=SCHEMA.attribute_definitions, ttl_attribute="expires"
)


def client_error(code: str, operation: str, retry_attempts: int = 0) -> ClientError:
    """The error botocore raises, with how often it retried the call before this answer."""
    metadata: Any = {"RetryAttempts": retry_attempts}
    return ClientError({"Error": {"Code": code, "Message": code}, "ResponseMetadata": metadata}, operation)


class StandInDynamoDB:
    """The calls prepare_target makes, answered from a dict of tables; every call is recorded."""

    def __init__(self) -> None:
        self.tables: dict[str, dict[str, Any]] = {}
        self.item_counts: dict[str, int] = {}
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.create_error: ClientError | None = None
        self.creates_it_anyway = True  # a CreateTable that fails with create_error still made the table
        self.made_anyway = (SCHEMA, 0)  # ... with these keys and this many items (someone else's may differ)

    def add_table(self, name: str, schema: TableSchema, status: str = "ACTIVE", items: int = 0) -> None:
        self.tables[name] = {
            "TableName": name,
            "TableStatus": status,
            "KeySchema": schema.key_schema,
            "AttributeDefinitions": schema.attribute_definitions,
        }
        self.item_counts[name] = items

    def describe_table(self, **request: Any) -> dict[str, Any]:
        self.calls.append(("DescribeTable", request))
        table = self.tables.get(request["TableName"])
        if table is None:
            raise client_error("ResourceNotFoundException", "DescribeTable")
        return {"Table": dict(table)}

    def create_table(self, **request: Any) -> dict[str, Any]:
        self.calls.append(("CreateTable", request))
        if self.create_error is not None:
            if self.creates_it_anyway:
                schema, items = self.made_anyway
                self.add_table(request["TableName"], schema, status="CREATING", items=items)
            raise self.create_error
        self.add_table(request["TableName"], SCHEMA, status="CREATING")
        return {}

    def get_waiter(self, name: str) -> "StandInWaiter":
        return StandInWaiter(self, name)

    def scan(self, **request: Any) -> dict[str, Any]:
        self.calls.append(("Scan", request))
        return {"Count": min(1, self.item_counts[request["TableName"]])}

    def update_time_to_live(self, **request: Any) -> dict[str, Any]:
        self.calls.append(("UpdateTimeToLive", request))
        return {}

    def called(self, operation: str) -> list[dict[str, Any]]:
        return [request for name, request in self.calls if name == operation]

    def as_client(self) -> "DynamoDBClient":
        return cast("DynamoDBClient", self)


class StandInWaiter:
    def __init__(self, dynamodb: StandInDynamoDB, name: str) -> None:
        self.dynamodb, self.name = dynamodb, name

    def wait(self, **request: Any) -> None:
        self.dynamodb.calls.append((f"wait:{self.name}", request))
        self.dynamodb.tables[request["TableName"]]["TableStatus"] = "ACTIVE"


@pytest.fixture
def dynamodb() -> StandInDynamoDB:
    return StandInDynamoDB()


def prepare(dynamodb: StandInDynamoDB, schema: TableSchema = SCHEMA, **flags: bool) -> bool:
    options = {"create_table": True, "overwrite": False, **flags}
    return prepare_target(
        dynamodb.as_client(), "ledger-r", schema, options["create_table"], options["overwrite"]
    )


def test_a_missing_target_is_refused_without_create_table(dynamodb: StandInDynamoDB) -> None:
    with pytest.raises(
        TableNotFound, match="target table 'ledger-r' does not exist; set create_table to true to create it"
    ):
        prepare(dynamodb, create_table=False)
    assert dynamodb.called("CreateTable") == []


def test_a_missing_target_is_created_from_the_schema_and_waited_for(dynamodb: StandInDynamoDB) -> None:
    assert prepare(dynamodb) is True
    tags = [{"Key": "ledger-backup:created-by", "Value": "restore"}]  # what lets the role delete it again
    assert dynamodb.called("CreateTable") == [{**SCHEMA.create_table_request("ledger-r"), "Tags": tags}]
    assert dynamodb.called("wait:table_exists") == [
        {"TableName": "ledger-r", "WaiterConfig": {"Delay": 2, "MaxAttempts": 300}}
    ]
    assert dynamodb.called("UpdateTimeToLive") == []
    assert dynamodb.called("Scan") == []  # a table created here is empty


def test_a_created_target_gets_the_backups_ttl(dynamodb: StandInDynamoDB) -> None:
    assert prepare(dynamodb, WITH_TTL) is True
    assert dynamodb.called("UpdateTimeToLive") == [
        {"TableName": "ledger-r", "TimeToLiveSpecification": {"Enabled": True, "AttributeName": "expires"}}
    ]
    operations = [name for name, _ in dynamodb.calls]
    assert operations.index("wait:table_exists") < operations.index("UpdateTimeToLive")


def test_an_empty_existing_target_is_used_as_it_is(dynamodb: StandInDynamoDB) -> None:
    dynamodb.add_table("ledger-r", SCHEMA)
    assert prepare(dynamodb) is False
    assert dynamodb.called("CreateTable") == []
    assert dynamodb.called("Scan") == [
        {"TableName": "ledger-r", "Limit": 1, "Select": "COUNT", "ConsistentRead": True}
    ]


def test_a_target_with_other_keys_is_refused(dynamodb: StandInDynamoDB) -> None:
    other = TableSchema(
        key_schema=[{"AttributeName": "id", "KeyType": "HASH"}],
        attribute_definitions=[{"AttributeName": "id", "AttributeType": "S"}],
    )
    dynamodb.add_table("ledger-r", other)
    with pytest.raises(
        SchemaMismatch,
        match=r"target table 'ledger-r' has key schema id \(S, HASH\) "
        r"but the backup's is book_id \(S, HASH\)",
    ):
        prepare(dynamodb, overwrite=True)


def test_a_target_being_deleted_is_refused(dynamodb: StandInDynamoDB) -> None:
    dynamodb.add_table("ledger-r", SCHEMA, status="DELETING")
    with pytest.raises(InvalidRequest, match="target table 'ledger-r' is being deleted"):
        prepare(dynamodb)
    assert dynamodb.called("Scan") == []


def test_a_target_being_created_is_waited_for(dynamodb: StandInDynamoDB) -> None:
    dynamodb.add_table("ledger-r", SCHEMA, status="CREATING")
    assert prepare(dynamodb) is False
    assert [name for name, _ in dynamodb.calls] == ["DescribeTable", "wait:table_exists", "Scan"]


@pytest.mark.parametrize("overwrite", [False, True])
def test_a_target_holding_items_needs_overwrite(dynamodb: StandInDynamoDB, overwrite: bool) -> None:
    dynamodb.add_table("ledger-r", SCHEMA, items=3)
    if overwrite:
        assert prepare(dynamodb, overwrite=True) is False
        assert dynamodb.called("Scan") == []  # with overwrite there is nothing to check
        return
    with pytest.raises(
        TargetNotEmpty,
        match="target table 'ledger-r' already holds items; set overwrite to true to write the backup's "
        r"items over them \(items that are not in the backup are kept\)",
    ):
        prepare(dynamodb)


def test_a_first_page_with_only_a_last_evaluated_key_counts_as_holding_items(
    dynamodb: StandInDynamoDB,
) -> None:
    dynamodb.add_table("ledger-r", SCHEMA)

    def filtered_page(**request: Any) -> dict[str, Any]:
        return {"Count": 0, "LastEvaluatedKey": {"book_id": {"S": "b1"}}}

    dynamodb.scan = filtered_page  # type: ignore[method-assign]
    with pytest.raises(TargetNotEmpty):
        prepare(dynamodb)


OTHER_KEYS = TableSchema(
    key_schema=[{"AttributeName": "id", "KeyType": "HASH"}],
    attribute_definitions=[{"AttributeName": "id", "AttributeType": "S"}],
)


def test_a_retried_create_table_that_meets_a_table_checks_it_like_any_target(
    dynamodb: StandInDynamoDB,
) -> None:
    """Our own create whose answer was lost, or someone else's: it cannot tell, so not "created here"."""
    dynamodb.create_error = client_error("ResourceInUseException", "CreateTable", retry_attempts=1)
    assert prepare(dynamodb, WITH_TTL) is False
    assert dynamodb.called("UpdateTimeToLive") == []
    assert [name for name, _ in dynamodb.calls] == [
        "DescribeTable",
        "CreateTable",
        "DescribeTable",
        "wait:table_exists",
        "Scan",
    ]


def test_a_retried_create_table_that_meets_a_table_with_other_keys_is_refused(
    dynamodb: StandInDynamoDB,
) -> None:
    dynamodb.create_error = client_error("ResourceInUseException", "CreateTable", retry_attempts=2)
    dynamodb.made_anyway = (OTHER_KEYS, 0)
    with pytest.raises(SchemaMismatch, match=r"target table 'ledger-r' has key schema id \(S, HASH\)"):
        prepare(dynamodb)
    assert dynamodb.called("Scan") == []


def test_a_retried_create_table_that_meets_a_table_holding_items_is_refused(
    dynamodb: StandInDynamoDB,
) -> None:
    dynamodb.create_error = client_error("ResourceInUseException", "CreateTable", retry_attempts=1)
    dynamodb.made_anyway = (SCHEMA, 5)
    with pytest.raises(TargetNotEmpty, match="target table 'ledger-r' already holds items"):
        prepare(dynamodb)


def test_a_table_someone_else_created_meanwhile_is_refused_untouched(dynamodb: StandInDynamoDB) -> None:
    """Not retried: the table was there before our CreateTable arrived, so it is not ours to fill."""
    dynamodb.create_error = client_error("ResourceInUseException", "CreateTable")
    with pytest.raises(TargetBusy) as caught:
        prepare(dynamodb, WITH_TTL, overwrite=True)
    assert str(caught.value) == (
        "target table 'ledger-r' was created by someone else while this restore was about to create it "
        "(another restore into the same table?); nothing was written: let that one finish, then restore "
        "into another table, or into this one with overwrite"
    )
    assert [name for name, _ in dynamodb.calls] == ["DescribeTable", "CreateTable"]


def test_a_table_that_vanishes_while_it_is_created_is_named(dynamodb: StandInDynamoDB) -> None:
    dynamodb.create_error = client_error("ResourceInUseException", "CreateTable", retry_attempts=1)
    dynamodb.creates_it_anyway = False
    with pytest.raises(TableNotFound, match="target table 'ledger-r' vanished while it was being created"):
        prepare(dynamodb)


def test_other_create_table_errors_are_raised(dynamodb: StandInDynamoDB) -> None:
    dynamodb.create_error = client_error("LimitExceededException", "CreateTable")
    dynamodb.creates_it_anyway = False
    with pytest.raises(ClientError, match="LimitExceededException"):
        prepare(dynamodb)
