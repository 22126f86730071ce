"""ItemRules and DynamoDB Local agree: every case is refused by both or accepted by both.

One table with a binary sort key, a GSI and an LSI; a few dozen PutItems. Only wire-valid shapes
are sent (botocore itself refuses an unknown type tag or a bare number before sending), so the
shape rules are covered by tests/unit/test_item_rules.py alone.
"""

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest
from botocore.exceptions import ClientError

from ledger_backup.item_rules import MAX_ITEM_BYTES, ItemRejected, ItemRules, item_size
from ledger_backup.schema import TableSchema

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

pytestmark = pytest.mark.integration

KEYS = {"pk": {"S": "k"}, "sk": {"B": b"s"}}


def nested(levels: int, leaf: dict[str, Any], tag: str) -> dict[str, Any]:
    value = leaf
    for _ in range(levels):
        value = {"M": {"a": value}} if tag == "M" else {"L": [value]}
    return value


def with_keys(**attributes: Any) -> dict[str, Any]:
    return {**KEYS, **attributes}


def exactly_400_kb(extra: int) -> dict[str, Any]:
    """An item of every size-relevant type, padded to 409,600 bytes (plus `extra`) by item_size's count."""
    base = with_keys(
        n={"N": "-123.456"},
        z={"N": "0"},
        e={"N": "15e101"},
        m={"M": {"x": {"S": "\u00e9t\u00e9"}, "t": {"BOOL": True}, "u": {"NULL": True}}},
        l={"L": [{"N": "1.5"}, {"L": []}, {"M": {}}]},
        ss={"SS": ["a", "bc"]},
        ns={"NS": ["1", "-0.25", "1e100"]},
        bs={"BS": [b"\x00", b"xyz"]},
        b={"B": b"abc"},
    )
    return {**base, "pad": {"S": "a" * (MAX_ITEM_BYTES - item_size(base) - len("pad") + extra)}}


CASES: dict[str, dict[str, Any]] = {
    "plain": with_keys(),
    "number +1": with_keys(n={"N": "+1"}),
    "number .5": with_keys(n={"N": ".5"}),
    "number 5.": with_keys(n={"N": "5."}),
    "number 007": with_keys(n={"N": "007"}),
    "number -0": with_keys(n={"N": "-0"}),
    "number 1e5": with_keys(n={"N": "1e5"}),
    "number ' 1'": with_keys(n={"N": " 1"}),
    "number 0x10": with_keys(n={"N": "0x10"}),
    "number NaN": with_keys(n={"N": "NaN"}),
    "number Infinity": with_keys(n={"N": "Infinity"}),
    "number 1_000": with_keys(n={"N": "1_000"}),
    "number fullwidth 1": with_keys(n={"N": "\uff11"}),
    "number superscript 2": with_keys(n={"N": "\u00b2"}),
    "number 38 digits": with_keys(n={"N": "9" * 38}),
    "number 39 digits": with_keys(n={"N": "9" * 39}),
    "number 38 digits and trailing zeros": with_keys(n={"N": "9" * 38 + "00"}),
    "number 1e-130": with_keys(n={"N": "1e-130"}),
    "number 1e-131": with_keys(n={"N": "-1e-131"}),
    "number largest": with_keys(n={"N": "9.9999999999999999999999999999999999999E+125"}),
    "number 1e126": with_keys(n={"N": "1e126"}),
    "number 0e2147483647": with_keys(n={"N": "0e2147483647"}),
    "number 0e2147483648": with_keys(n={"N": "0e2147483648"}),
    "SS empty": with_keys(s={"SS": []}),
    "SS duplicate": with_keys(s={"SS": ["a", "a"]}),
    "SS empty member": with_keys(s={"SS": ["", "a"]}),
    "NS 1 and 1.0": with_keys(s={"NS": ["1", "1.0"]}),
    "NS 0 and -0": with_keys(s={"NS": ["0", "-0"]}),
    "NS 1 and 2": with_keys(s={"NS": ["1", "2"]}),
    "NS empty": with_keys(s={"NS": []}),
    "BS duplicate": with_keys(s={"BS": [b"a", b"a"]}),
    "BS empty member": with_keys(s={"BS": [b""]}),
    "31 maps": with_keys(v=nested(31, {"S": "x"}, "M")),
    "32 maps": with_keys(v=nested(32, {"S": "x"}, "M")),
    "31 lists, the last empty": with_keys(v=nested(30, {"L": []}, "L")),
    "32 lists, the last empty": with_keys(v=nested(31, {"L": []}, "L")),
    "empty attribute name": with_keys(**{"": {"S": "x"}}),
    "empty nested name": with_keys(m={"M": {"": {"S": "x"}}}),
    "name of 65,535 bytes": with_keys(**{"a" * 65535: {"S": "x"}}),
    "name of 65,536 bytes": with_keys(m={"M": {"\u00e9" * 32768: {"S": "x"}}}),
    "partition key missing": {"sk": {"B": b"s"}},
    "partition key N": {**KEYS, "pk": {"N": "1"}},
    "partition key empty": {**KEYS, "pk": {"S": ""}},
    "partition key 2,048 bytes": {**KEYS, "pk": {"S": "\u00e9" * 1024}},
    "partition key 2,049 bytes": {**KEYS, "pk": {"S": "a" * 2049}},
    "sort key 1,024 bytes": {**KEYS, "sk": {"B": b"a" * 1024}},
    "sort key 1,025 bytes": {**KEYS, "sk": {"B": b"a" * 1025}},
    "sort key empty": {**KEYS, "sk": {"B": b""}},
    "GSI key N for S": with_keys(status={"N": "1"}),
    "GSI key NULL": with_keys(status={"NULL": True}),
    "GSI key empty": with_keys(status={"S": ""}),
    "GSI key 2,048 bytes": with_keys(status={"S": "a" * 2048}),
    "GSI key 2,049 bytes": with_keys(status={"S": "a" * 2049}),
    "GSI sort key S for N": with_keys(rank={"S": "x"}),
    "GSI sort key alone": with_keys(rank={"N": "1"}),
    "LSI key 1,024 bytes": with_keys(lsk={"S": "a" * 1024}),
    "LSI key 1,025 bytes": with_keys(lsk={"S": "a" * 1025}),
    "LSI key empty": with_keys(lsk={"S": ""}),
    "item of 409,600 bytes": exactly_400_kb(0),
    "item of 409,601 bytes": exactly_400_kb(1),
}


@pytest.fixture
def rules_table(dynamodb: "DynamoDBClient", unique_name: str) -> Iterator[str]:
    name = f"rules-{unique_name}"
    dynamodb.create_table(
        TableName=name,
        BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "B"},
            {"AttributeName": "status", "AttributeType": "S"},
            {"AttributeName": "rank", "AttributeType": "N"},
            {"AttributeName": "lsk", "AttributeType": "S"},
        ],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "by-status",
                "KeySchema": [
                    {"AttributeName": "status", "KeyType": "HASH"},
                    {"AttributeName": "rank", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "KEYS_ONLY"},
            }
        ],
        LocalSecondaryIndexes=[
            {
                "IndexName": "by-lsk",
                "KeySchema": [
                    {"AttributeName": "pk", "KeyType": "HASH"},
                    {"AttributeName": "lsk", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "KEYS_ONLY"},
            }
        ],
    )
    yield name
    dynamodb.delete_table(TableName=name)


def dynamodb_answer(dynamodb: "DynamoDBClient", table: str, item: dict[str, Any]) -> str | None:
    try:
        dynamodb.put_item(TableName=table, Item=item)
    except ClientError as error:
        if error.response["Error"]["Code"] != "ValidationException":
            raise  # not a refusal of the item: the test itself went wrong
        return error.response["Error"]["Message"]
    return None


def rules_answer(rules: ItemRules, item: dict[str, Any]) -> str | None:
    try:
        rules.check(item)
    except ItemRejected as rejected:
        return str(rejected)
    return None


def test_item_rules_agree_with_dynamodb_local(dynamodb: "DynamoDBClient", rules_table: str) -> None:
    description = dynamodb.describe_table(TableName=rules_table)["Table"]
    rules = ItemRules(TableSchema.from_description(description, None))
    disagreements = []
    refused = 0
    for case, item in CASES.items():
        by_dynamodb = dynamodb_answer(dynamodb, rules_table, item)
        by_rules = rules_answer(rules, item)
        refused += by_dynamodb is not None
        if (by_dynamodb is None) != (by_rules is None):
            disagreements.append(f"{case}: DynamoDB Local says {by_dynamodb!r}, ItemRules says {by_rules!r}")
    assert disagreements == []
    assert 0 < refused < len(CASES)  # both kinds of case were really tried
