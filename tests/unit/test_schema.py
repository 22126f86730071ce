"""Schema capture from DescribeTable and the CreateTable request made from it."""

import pytest

from ledger_backup.errors import SchemaMismatch
from ledger_backup.schema import TableSchema

DESCRIPTION = {
    "TableName": "ledger",
    "KeySchema": [{"AttributeName": "sk", "KeyType": "RANGE"}, {"AttributeName": "pk", "KeyType": "HASH"}],
    "AttributeDefinitions": [
        {"AttributeName": "pk", "AttributeType": "S"},
        {"AttributeName": "sk", "AttributeType": "N"},
        {"AttributeName": "status", "AttributeType": "S"},
    ],
    "BillingModeSummary": {"BillingMode": "PAY_PER_REQUEST"},
    "GlobalSecondaryIndexes": [
        {
            "IndexName": "by-status",
            "KeySchema": [{"AttributeName": "status", "KeyType": "HASH"}],
            "Projection": {"ProjectionType": "ALL"},
            "IndexStatus": "ACTIVE",
            "ItemCount": 3,
            "ProvisionedThroughput": {"ReadCapacityUnits": 0, "WriteCapacityUnits": 0},
        }
    ],
}


def test_from_description_keeps_only_what_create_table_takes() -> None:
    schema = TableSchema.from_description(
        DESCRIPTION, {"TimeToLiveStatus": "ENABLED", "AttributeName": "exp"}
    )
    assert schema.key_names == ["pk", "sk"]
    assert schema.ttl_attribute == "exp"
    assert schema.global_secondary_indexes == [
        {
            "IndexName": "by-status",
            "KeySchema": [{"AttributeName": "status", "KeyType": "HASH"}],
            "Projection": {"ProjectionType": "ALL"},
        }
    ]
    request = schema.create_table_request("ledger-restored")
    assert request["BillingMode"] == "PAY_PER_REQUEST"
    assert request["TableName"] == "ledger-restored"
    assert "LocalSecondaryIndexes" not in request


def test_disabled_ttl_is_not_copied() -> None:
    assert TableSchema.from_description(DESCRIPTION, {"TimeToLiveStatus": "DISABLED"}).ttl_attribute is None


def test_json_round_trip() -> None:
    schema = TableSchema.from_description(DESCRIPTION, None)
    assert TableSchema.from_json(schema.to_json()) == schema


def test_key_mismatch_names_both_schemas() -> None:
    backup = TableSchema.from_description(DESCRIPTION, None)
    target = TableSchema(
        key_schema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        attribute_definitions=[{"AttributeName": "pk", "AttributeType": "N"}],
    )
    with pytest.raises(
        SchemaMismatch,
        match=r"'other' has key schema pk \(N, HASH\) but the backup's is pk \(S, HASH\), sk \(N, RANGE\)",
    ):
        backup.check_compatible("other", target)


def test_same_keys_in_another_order_are_compatible() -> None:
    backup = TableSchema.from_description(DESCRIPTION, None)
    reordered = TableSchema(
        key_schema=[{"AttributeName": "sk", "KeyType": "RANGE"}, {"AttributeName": "pk", "KeyType": "HASH"}],
        attribute_definitions=[
            {"AttributeName": "sk", "AttributeType": "N"},
            {"AttributeName": "pk", "AttributeType": "S"},
        ],
    )
    backup.check_compatible("t", reordered)
