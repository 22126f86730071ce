"""Schema capture from DescribeTable, the CreateTable request made from it, and the key schemas users give."""

from typing import Any

import pytest

from ledger_backup.errors import InvalidRequest, SchemaMismatch
from ledger_backup.schema import TableSchema, key_from_text, key_schema_from_json
from runtime.events import RestoreRequest, parse_event

# Key schemas given for sources that record none, and the restore event fields that carry them.

HASH = {"AttributeName": "book_id", "KeyType": "HASH", "AttributeType": "S"}
RANGE = {"AttributeName": "sk", "KeyType": "RANGE", "AttributeType": "N"}


def test_hash_and_range_build_a_create_table_schema() -> None:
    schema = key_schema_from_json([RANGE, HASH])
    assert schema.key_schema == [
        {"AttributeName": "book_id", "KeyType": "HASH"},
        {"AttributeName": "sk", "KeyType": "RANGE"},
    ]
    assert schema.describe_keys() == "book_id (S, HASH), sk (N, RANGE)"
    assert schema.create_table_request("t")["BillingMode"] == "PAY_PER_REQUEST"


def test_cli_spelling_builds_the_same_entries() -> None:
    assert key_from_text("book_id:S", "HASH") == HASH
    assert key_from_text("a:b:N", "RANGE") == {
        "AttributeName": "a:b",
        "KeyType": "RANGE",
        "AttributeType": "N",
    }
    with pytest.raises(InvalidRequest, match="a key is NAME:TYPE with TYPE one of S, N, B"):
        key_from_text("book_id", "HASH")


@pytest.mark.parametrize(
    ("entries", "problem"),
    [
        ([], "needs one HASH key"),
        ([RANGE], "exactly one HASH key"),
        ([HASH, HASH], "exactly one HASH key"),
        ([HASH, {**RANGE, "AttributeName": "book_id"}], "names the same attribute twice"),
        ([{**HASH, "AttributeType": "BOOL"}], "AttributeType of 'book_id' must be S, N or B"),
        ([{**HASH, "AttributeName": ""}], "AttributeName must be 1 to 255 characters"),
    ],
)
def test_invalid_key_schemas_are_refused(entries: list[dict[str, str]], problem: str) -> None:
    with pytest.raises(InvalidRequest, match=problem):
        key_schema_from_json(entries)


def test_restore_request_takes_dry_run_and_key_schema() -> None:
    request = parse_event(
        {"s3_key": "latest", "target_table": "ledger-r", "dry_run": True, "key_schema": [HASH, RANGE]},
        RestoreRequest,
    )
    assert request.dry_run is True
    assert request.key_schema is not None
    assert [k.model_dump() for k in request.key_schema] == [HASH, RANGE]
    defaults = parse_event({"s3_key": "k", "target_table": "ledger"}, RestoreRequest)
    assert (defaults.dry_run, defaults.key_schema) == (False, None)


@pytest.mark.parametrize(
    ("extra", "problem"),
    [
        ({"dry_run": "yes"}, "dry_run: Input should be a valid boolean"),
        ({"key_schema": []}, "key_schema: List should have at least 1 item"),
        ({"key_schema": [RANGE]}, "key_schema: Value error, needs exactly one HASH key"),
        (
            {"key_schema": [{**HASH, "KeyType": "PRIMARY"}]},
            "key_schema.0.KeyType: Input should be 'HASH' or 'RANGE'",
        ),
        ({"key_schema": [{**HASH, "Extra": 1}]}, "key_schema.0.Extra: Extra inputs are not permitted"),
    ],
)
def test_bad_restore_options_are_named(extra: dict[str, Any], problem: str) -> None:
    with pytest.raises(InvalidRequest, match="invalid RestoreRequest") as caught:
        parse_event({"s3_key": "k", "target_table": "ledger", **extra}, RestoreRequest)
    assert problem in str(caught.value)


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
