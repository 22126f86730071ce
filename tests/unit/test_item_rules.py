"""ItemRules refuses what DynamoDB refuses, names the attribute path, and accepts every edge it accepts.

Which spellings and limits DynamoDB takes was measured on DynamoDB Local (PutItem); the same
cases run against it in tests/integration/test_item_rules_dynamodb.py.
"""

import json
from typing import Any

import pytest

from devtools.edge_items import edge_items
from devtools.ledger_items import ledger_items
from ledger_backup.codec import decode_line, encode_line
from ledger_backup.errors import CorruptBackup
from ledger_backup.item_rules import (
    MAX_ITEM_BYTES,
    ItemRejected,
    ItemRules,
    item_size,
    number_problem,
    number_size,
)
from ledger_backup.schema import TableSchema

SCHEMA = TableSchema(
    key_schema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
    attribute_definitions=[
        {"AttributeName": "pk", "AttributeType": "S"},
        {"AttributeName": "sk", "AttributeType": "B"},
        {"AttributeName": "status", "AttributeType": "S"},
        {"AttributeName": "rank", "AttributeType": "N"},
        {"AttributeName": "lsk", "AttributeType": "S"},
    ],
    global_secondary_indexes=[
        {
            "IndexName": "by-status",
            "KeySchema": [
                {"AttributeName": "status", "KeyType": "HASH"},
                {"AttributeName": "rank", "KeyType": "RANGE"},
            ],
            "Projection": {"ProjectionType": "KEYS_ONLY"},
        }
    ],
    local_secondary_indexes=[
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
RULES = ItemRules(SCHEMA)
VALUES_ONLY = ItemRules(None)
KEYS = {"pk": {"S": "k"}, "sk": {"B": b"s"}}


def item(**attributes: Any) -> dict[str, Any]:
    return {**KEYS, **attributes}


def refusal(candidate: Any, rules: ItemRules = RULES, text_bytes: int | None = None) -> str:
    with pytest.raises(ItemRejected) as caught:
        rules.check(candidate, text_bytes)
    return str(caught.value)


def nested(levels: int, leaf: dict[str, Any], tag: str = "M") -> dict[str, Any]:
    value = leaf
    for _ in range(levels):
        value = {"M": {"a": value}} if tag == "M" else {"L": [value]}
    return value


# --- every value of the project's own test data passes -------------------------------------------------


@pytest.mark.parametrize("candidate", edge_items(), ids=lambda i: str(i.get("pk")))
def test_edge_items_pass_value_rules(candidate: dict[str, Any]) -> None:
    VALUES_ONLY.check(candidate)
    VALUES_ONLY.check(decode_line(encode_line(candidate)))


def test_ledger_items_pass_with_their_key() -> None:
    ledger = ItemRules(
        TableSchema(
            key_schema=[{"AttributeName": "book_id", "KeyType": "HASH"}],
            attribute_definitions=[{"AttributeName": "book_id", "AttributeType": "S"}],
        )
    )
    for candidate in ledger_items(50):
        ledger.check(candidate, len(encode_line(candidate).encode()))
        ledger.check(candidate)


# --- value shapes ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        (5, "not a DynamoDB attribute value"),
        ("text", "not a DynamoDB attribute value"),
        (["S"], "not a DynamoDB attribute value"),
        (None, "not a DynamoDB attribute value"),
        (b"S", "not a DynamoDB attribute value"),
        ({}, "not a DynamoDB attribute value"),
        ({"S": "a", "N": "1"}, "not a DynamoDB attribute value"),
        ({"X": "a"}, "unknown DynamoDB type 'X'"),
        ({"s": "a"}, "unknown DynamoDB type 's'"),
        ({"S": 5}, "S must be a string, not int"),
        ({"N": 5}, "N must be a string, not int"),
        ({"N": 1.5}, "N must be a string, not float"),
        ({"N": float("nan")}, "N must be a string, not float"),
        ({"N": float("inf")}, "N must be a string, not float"),
        ({"B": "AQI="}, "B must be bytes, not str"),
        ({"BOOL": "true"}, "BOOL must be true or false, not str"),
        ({"BOOL": 1}, "BOOL must be true or false, not int"),
        ({"NULL": False}, "NULL must be true"),
        ({"NULL": 1}, "NULL must be true, not int"),
        ({"M": []}, "M must be an object, not list"),
        ({"L": {}}, "L must be an array, not dict"),
        ({"SS": "a"}, "SS must be an array, not str"),
        ({"SS": ["a", 1]}, "SS members must all be strings"),
        ({"NS": [1, 2]}, "NS members must all be strings"),
        ({"BS": ["AQI="]}, "BS members must all be bytes"),
    ],
)
def test_values_that_are_not_dynamodb_json_are_refused(value: Any, problem: str) -> None:
    message = refusal(item(v=value))
    assert message.startswith("attribute v: ")
    assert problem in message


def test_bare_json_values_from_a_hand_made_file_are_refused() -> None:
    parsed = json.loads('{"pk": {"S": "k"}, "sk": {"B": "cw=="}, "n": 5, "x": {"N": NaN}}')
    parsed["sk"] = {"B": b"s"}
    assert (
        refusal(parsed)
        == 'attribute n: not a DynamoDB attribute value (expected one type, such as {"S": "text"})'
    )
    del parsed["n"]
    assert refusal(parsed) == "attribute x: N must be a string, not float"


def test_the_item_itself_must_be_an_object() -> None:
    assert "not a DynamoDB item" in refusal([{"S": "a"}])


def test_every_type_is_accepted_when_well_formed() -> None:
    RULES.check(
        item(
            s={"S": ""},
            n={"N": "-0.5"},
            b={"B": b""},
            t={"BOOL": False},
            z={"NULL": True},
            m={"M": {}},
            l={"L": []},
            ss={"SS": ["", "a"]},
            ns={"NS": ["1", "2"]},
            bs={"BS": [b"", b"a"]},
        )
    )


# --- paths ----------------------------------------------------------------------------------------------


def test_the_message_names_the_path_through_maps_and_lists() -> None:
    bad = item(
        steps={"M": {"toc": {"L": [{"N": "1"}, {"N": "2"}, {"N": "3"}, {"M": {"pages": {"N": "1x"}}}]}}}
    )
    assert refusal(bad) == "attribute steps.toc[3].pages: '1x' is not a number"


def test_a_problem_in_a_list_of_lists_names_each_index() -> None:
    bad = item(grid={"L": [{"L": [{"S": "a"}]}, {"L": [{"S": "b"}, {"SS": []}]}]})
    assert refusal(bad) == "attribute grid[1][1]: SS is empty; DynamoDB does not store empty sets"


def test_check_at_reports_corrupt_backup_with_the_location() -> None:
    with pytest.raises(CorruptBackup) as caught:
        RULES.check_at(item(v={"NS": []}), "s3://b/k/data/part-0.json.gz, line 17")
    assert str(caught.value) == (
        "s3://b/k/data/part-0.json.gz, line 17: attribute v: NS is empty; DynamoDB does not store empty sets"
    )


def test_check_at_passes_a_good_item() -> None:
    RULES.check_at(item(v={"S": "x"}), "line 1")


# --- numbers --------------------------------------------------------------------------------------------

ACCEPTED_NUMBERS = [
    "0",
    "-0",
    "00",
    "007",
    "0.0",
    "-0.0",
    "+1",
    "1e5",
    "1E5",
    "1e+5",
    "1e-5",
    "1E-0",
    ".5",
    "5.",
    "-.5",
    "-5.",
    "0e0",
    "0E-200",
    "0e999999",
    "0e2147483647",
    "0.0e2147483647",
    "1e-130",
    "-1e-130",
    "100e-132",
    "9.9999999999999999999999999999999999999E+125",
    "-9.9999999999999999999999999999999999999E+125",
    "99999999999999999999999999999999999999e88",
    "12345678901234567890123456789012345678",
    "-12345678901234567890123456789012345678",
    "1234567890123456789012345678901234567800",
    "1.000000000000000000000000000000000000000000",
    "0.12345678901234567890123456789012345678",
    "0.000000000000000000012345678901234567890123456789012345678",
    "1e+00000000000005",
    "\uff11",  # FULLWIDTH DIGIT ONE: DynamoDB Local stores it as 1 (Java reads any Unicode digit)
    "\u0663e1",  # ARABIC-INDIC DIGIT THREE
]
REFUSED_NUMBERS = [
    ("", "not a number"),
    (" 1", "not a number"),
    ("1 ", "not a number"),
    ("\t1", "not a number"),
    ("1\n", "not a number"),
    ("0x10", "not a number"),
    ("1_000", "not a number"),
    ("1,5", "not a number"),
    ("NaN", "not a number"),
    ("nan", "not a number"),
    ("Infinity", "not a number"),
    ("-Infinity", "not a number"),
    ("inf", "not a number"),
    ("-", "not a number"),
    ("+", "not a number"),
    (".", "not a number"),
    ("e5", "not a number"),
    ("1e", "not a number"),
    ("1.2.3", "not a number"),
    ("--1", "not a number"),
    ("+-1", "not a number"),
    ("1e5.5", "not a number"),
    ("\u00b2", "not a number"),  # SUPERSCRIPT TWO: str.isdigit() says yes, DynamoDB and Decimal say no
    ("0e2147483648", "exponent out of range"),
    ("0e-2147483648", "exponent out of range"),
    ("0.0e-2147483647", "exponent out of range"),
    ("1e99999999999999999999", "exponent out of range"),
    ("0e" + "9" * 5000, "exponent out of range"),
    ("123456789012345678901234567890123456789", "39 significant digits"),
    ("123456789012345678901234567890123456789e-1", "39 significant digits"),
    ("1.23456789012345678901234567890123456789", "39 significant digits"),
    ("1e-131", "outside DynamoDB's number range"),
    ("-1e-131", "outside DynamoDB's number range"),
    ("1e126", "outside DynamoDB's number range"),
    ("-1e126", "outside DynamoDB's number range"),
    ("0.1e127", "outside DynamoDB's number range"),
    ("99999999999999999999999999999999999999e89", "outside DynamoDB's number range"),
    ("0." + "0" * 130 + "1", "outside DynamoDB's number range"),
]


@pytest.mark.parametrize("text", ACCEPTED_NUMBERS)
def test_numbers_dynamodb_accepts(text: str) -> None:
    assert number_problem(text) is None
    RULES.check(item(n={"N": text}, ns={"NS": [text]}))


@pytest.mark.parametrize(("text", "problem"), REFUSED_NUMBERS)
def test_numbers_dynamodb_refuses(text: str, problem: str) -> None:
    assert problem in refusal(item(n={"N": text}))
    assert refusal(item(n={"N": text})).startswith("attribute n: ")
    assert problem in refusal(item(ns={"NS": ["1", text]}))


# --- sets -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ({"SS": []}, "SS is empty"),
        ({"NS": []}, "NS is empty"),
        ({"BS": []}, "BS is empty"),
        ({"SS": ["a", "a"]}, "SS has duplicate members"),
        ({"BS": [b"a", b"a"]}, "BS has duplicate members"),
        ({"NS": ["1", "1"]}, "NS has duplicate members"),
        ({"NS": ["1", "1.0"]}, "NS has duplicate members"),
        ({"NS": ["1", "01"]}, "NS has duplicate members"),
        ({"NS": ["1", "1e0"]}, "NS has duplicate members"),
        ({"NS": ["100", "1e2"]}, "NS has duplicate members"),
        ({"NS": ["0", "-0"]}, "NS has duplicate members"),
        ({"NS": ["2", "x"]}, "member 'x' is not a number"),
    ],
)
def test_sets_dynamodb_refuses(value: dict[str, Any], problem: str) -> None:
    assert problem in refusal(item(v=value))


@pytest.mark.parametrize(
    "value",
    [
        {"SS": ["a", "A"]},
        {"SS": ["\u00e9", "e\u0301"]},  # compared exactly, not after Unicode normalisation
        {"SS": [""]},
        {"BS": [b""]},
        {"BS": [b"a", b"A"]},
        {"NS": ["1", "2", "-1", "0.5", "1e2"]},
        {"NS": ["1", "1.5"]},
    ],
)
def test_sets_dynamodb_accepts(value: dict[str, Any]) -> None:
    RULES.check(item(v=value))


# --- nesting --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("tag", ["M", "L"])
def test_31_nested_containers_pass_and_32_are_refused(tag: str) -> None:
    RULES.check(item(v=nested(31, {"S": "x"}, tag)))
    RULES.check(item(v=nested(31, {"SS": ["x"]}, tag)))
    RULES.check(item(v=nested(30, {"L": []}, tag)))
    assert "nested deeper than DynamoDB's 32 levels" in refusal(item(v=nested(32, {"S": "x"}, tag)))
    assert "nested deeper than DynamoDB's 32 levels" in refusal(item(v=nested(31, {"M": {}}, tag)))


def test_the_deep_refusal_names_the_path_of_the_32nd_container() -> None:
    path = "v" + ".a" * 31
    assert refusal(item(v=nested(32, {"S": "x"}))) == (
        f"attribute {path}: nested deeper than DynamoDB's 32 levels (the item itself is level 1)"
    )


def test_very_deep_nesting_is_refused_without_recursion_error() -> None:
    assert "nested deeper" in refusal(item(v=nested(100_000, {"S": "x"}, "L")))


# --- attribute names ------------------------------------------------------------------------------------


def test_empty_attribute_names_are_refused_at_every_level() -> None:
    assert "empty name" in refusal(item(**{"": {"S": "x"}}))
    assert refusal(item(m={"M": {"a": {"M": {"": {"S": "x"}}}}})) == (
        "attribute m.a: a map member has an empty name; DynamoDB refuses empty attribute names"
    )


def test_names_under_64_kb_pass_and_longer_are_refused() -> None:
    RULES.check(item(**{"a" * 65535: {"S": "x"}}))
    RULES.check(item(m={"M": {"\u00e9" * 32767: {"S": "x"}}}))  # 65,534 UTF-8 bytes
    assert "an attribute name of 65,536 bytes" in refusal(item(**{"a" * 65536: {"S": "x"}}))
    assert refusal(item(m={"M": {"\u00e9" * 32768: {"S": "x"}}})) == (
        "attribute m: an attribute name of 65,536 bytes; DynamoDB allows at most 65,535"
    )


# --- table keys -----------------------------------------------------------------------------------------


def test_missing_keys_are_refused() -> None:
    assert refusal({"sk": {"B": b"s"}}) == "attribute pk: missing; it is the table's partition key (S)"
    assert refusal({"pk": {"S": "k"}}) == "attribute sk: missing; it is the table's sort key (B)"


@pytest.mark.parametrize(
    ("keys", "problem"),
    [
        ({"pk": {"N": "1"}}, "attribute pk: the table's partition key needs type S, the item has N"),
        ({"pk": {"NULL": True}}, "attribute pk: the table's partition key needs type S, the item has NULL"),
        ({"sk": {"S": "s"}}, "attribute sk: the table's sort key needs type B, the item has S"),
        ({"pk": {"S": ""}}, "attribute pk: the table's partition key must not be empty"),
        ({"sk": {"B": b""}}, "attribute sk: the table's sort key must not be empty"),
        (
            {"pk": {"S": "a" * 2049}},
            "attribute pk: the table's partition key is 2,049 bytes; DynamoDB allows at most 2,048",
        ),
        ({"pk": {"S": "\u00e9" * 1025}}, "the table's partition key is 2,050 bytes"),
        (
            {"sk": {"B": b"a" * 1025}},
            "attribute sk: the table's sort key is 1,025 bytes; DynamoDB allows at most 1,024",
        ),
    ],
)
def test_key_values_dynamodb_refuses(keys: dict[str, Any], problem: str) -> None:
    assert problem in refusal({**KEYS, **keys})


def test_key_values_at_the_limits_pass() -> None:
    RULES.check({"pk": {"S": "a" * 2048}, "sk": {"B": b"a" * 1024}})
    RULES.check({"pk": {"S": "\u00e9" * 1024}, "sk": {"B": b"\x00"}})  # 2,048 UTF-8 bytes


def test_number_keys_are_never_too_long() -> None:
    rules = ItemRules(
        TableSchema(
            key_schema=[{"AttributeName": "n", "KeyType": "HASH"}],
            attribute_definitions=[{"AttributeName": "n", "AttributeType": "N"}],
        )
    )
    rules.check({"n": {"N": "-9.9999999999999999999999999999999999999E+125"}})
    rules.check({"n": {"N": "0"}})


def test_without_a_schema_keys_are_not_required() -> None:
    VALUES_ONLY.check({"anything": {"S": ""}})


# --- secondary index keys -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("attributes", "problem"),
    [
        ({"status": {"N": "1"}}, "attribute status: index by-status (GSI) needs type S, the item has N"),
        (
            {"status": {"NULL": True}},
            "attribute status: index by-status (GSI) needs type S, the item has NULL",
        ),
        ({"status": {"SS": ["a"]}}, "attribute status: index by-status (GSI) needs type S, the item has SS"),
        ({"rank": {"S": "1"}}, "attribute rank: index by-status (GSI) needs type N, the item has S"),
        ({"status": {"S": ""}}, "attribute status: index by-status (GSI) must not be empty"),
        (
            {"status": {"S": "a" * 2049}},
            "attribute status: index by-status (GSI) is 2,049 bytes; DynamoDB allows at most 2,048",
        ),
        ({"lsk": {"N": "1"}}, "attribute lsk: index by-lsk (LSI) needs type S, the item has N"),
        ({"lsk": {"S": ""}}, "attribute lsk: index by-lsk (LSI) must not be empty"),
        (
            {"lsk": {"S": "a" * 1025}},
            "attribute lsk: index by-lsk (LSI) is 1,025 bytes; DynamoDB allows at most 1,024",
        ),
    ],
)
def test_index_keys_dynamodb_refuses(attributes: dict[str, Any], problem: str) -> None:
    assert refusal(item(**attributes)) == problem


def test_index_keys_may_be_absent_or_right() -> None:
    RULES.check(item())
    RULES.check(item(rank={"N": "1"}))
    RULES.check(item(status={"S": "a" * 2048}, rank={"N": "-1"}, lsk={"S": "a" * 1024}))


# --- item size ------------------------------------------------------------------------------------------

# Bytes each value takes, measured on DynamoDB Local (the largest item it accepts beside the value).
MEASURED_VALUE_SIZES = [
    ({"N": "1"}, 2),
    ({"N": "12"}, 2),
    ({"N": "123"}, 3),
    ({"N": "1234"}, 3),
    ({"N": "0"}, 1),
    ({"N": "-0"}, 1),
    ({"N": "-1"}, 3),
    ({"N": "1.5"}, 3),
    ({"N": "12.5"}, 3),
    ({"N": "0.5"}, 2),
    ({"N": "-0.5"}, 3),
    ({"N": "100"}, 2),
    ({"N": "-100"}, 3),
    ({"N": "1e100"}, 2),
    ({"N": "15e100"}, 2),
    ({"N": "15e101"}, 3),
    ({"N": "0.001"}, 2),
    ({"N": "1.25"}, 3),
    ({"N": "-1.25"}, 4),
    ({"N": "1.5e-130"}, 3),
    ({"N": "123456789.123456789"}, 11),
    ({"N": "1" * 38}, 20),
    ({"N": "-" + "1" * 38}, 21),
    ({"BOOL": True}, 1),
    ({"NULL": True}, 1),
    ({"M": {}}, 3),
    ({"M": {"x": {"S": "ab"}}}, 7),
    ({"L": []}, 3),
    ({"L": [{"S": "ab"}]}, 6),
    ({"L": [{"S": "ab"}, {"S": "c"}]}, 8),
    ({"L": [{"L": []}]}, 7),
    ({"SS": ["a", "bc"]}, 3),
    ({"NS": ["1", "23"]}, 4),
    ({"NS": ["1", "1.5"]}, 5),
    ({"BS": [b"a", b"bc"]}, 3),
    ({"B": b"abc"}, 3),
    ({"S": "\u00e9"}, 2),
]


@pytest.mark.parametrize(("value", "size"), MEASURED_VALUE_SIZES)
def test_item_size_counts_values_as_dynamodb_local_does(value: dict[str, Any], size: int) -> None:
    assert item_size({"v": value}) == 1 + size


def test_item_size_counts_names_in_utf8() -> None:
    assert item_size({"\u00e9": {"S": ""}, "pk": {"S": "k"}}) == 2 + 3


def test_number_size_agrees_with_the_item_size() -> None:
    assert number_size("-1.25") == 4


def test_an_item_of_exactly_400_kb_passes_and_one_byte_more_is_refused() -> None:
    base = item(n={"N": "-1.25"}, m={"M": {"l": {"L": [{"BOOL": True}]}}})
    pad = MAX_ITEM_BYTES - item_size(base) - len("pad")
    RULES.check({**base, "pad": {"S": "a" * pad}})
    assert refusal({**base, "pad": {"S": "a" * (pad + 1)}}) == (
        "the item is 409,601 bytes as DynamoDB counts them; the limit is 400 KB (409,600 bytes)"
    )


def test_a_short_text_skips_the_size_but_a_long_one_is_measured() -> None:
    big = item(pad={"S": "a" * MAX_ITEM_BYTES})
    assert "the limit is 400 KB" in refusal(big, text_bytes=MAX_ITEM_BYTES + 100)
    assert "the limit is 400 KB" in refusal(big, text_bytes=None)
    # A caller that claims a short text is believed (JSON text is never smaller than the item):
    RULES.check(big, text_bytes=1000)


def test_json_text_is_never_smaller_than_the_item_size() -> None:
    for candidate in [*edge_items(), *ledger_items(30)]:
        assert len(encode_line(candidate).encode()) >= item_size(candidate)


@pytest.mark.parametrize(
    "text",
    ["0", "-0", "7", "-7", "10", "100", "1234", "0.001", "0.0010", "-120.5", "10.50", "99999", "0010.0100"],
)
def test_the_plain_spelling_shortcut_sizes_numbers_as_decimal_does(text: str) -> None:
    # "e0" takes the Decimal route through number_size; the value is the same.
    assert number_size(text) == number_size(text + "e0")


def test_plain_number_sizes_match_decimal_for_many_numbers() -> None:
    for whole in range(0, 2000, 7):
        for fraction in ("", ".5", ".05", ".250", ".0001"):
            for sign in ("", "-"):
                text = f"{sign}{whole}{fraction}"
                assert number_size(text) == number_size(text + "e0"), text
