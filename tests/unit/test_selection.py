"""Chosen keys from a request or a keys file: checked against the key schema, deduplicated, named."""

from typing import Any

import pytest

from ledger_backup.errors import InvalidRequest
from ledger_backup.restore.selection import selection_from_keys, selection_from_lines
from ledger_backup.schema import key_schema_from_json

SCHEMA = key_schema_from_json([{"AttributeName": "book_id", "KeyType": "HASH", "AttributeType": "S"}])
COMPOSITE = key_schema_from_json(
    [
        {"AttributeName": "pk", "KeyType": "HASH", "AttributeType": "S"},
        {"AttributeName": "sk", "KeyType": "RANGE", "AttributeType": "N"},
    ]
)


@pytest.mark.parametrize(
    ("keys", "problem"),
    [
        ([{"book": {"S": "x"}}], r"keys\[0\]: a key needs exactly the attributes \['book_id'\]"),
        ([{"book_id": {"N": "1"}}], r"keys\[0\]: key attribute book_id must be a non-empty S value"),
        ([{"book_id": {"S": ""}}], r"keys\[0\]: key attribute book_id must be a non-empty S value"),
        ([{"book_id": {"S": "a"}, "status": {"S": "x"}}], r"keys\[0\]: a key needs exactly the attributes"),
        (["book-1"], r"keys\[0\]: a key must be a JSON object such as"),
        ([{"book_id": "x"}], r"keys\[0\]: attribute book_id: not a DynamoDB attribute value"),
        ([{"book_id": {"S": "x"}}] * 1001, "at most 1,000 keys in a request"),
    ],
)
def test_bad_keys_are_refused_naming_the_key(keys: list[Any], problem: str) -> None:
    with pytest.raises(InvalidRequest, match=problem):
        selection_from_keys(keys, SCHEMA)


def test_keys_are_deduplicated_and_numbers_compare_by_value() -> None:
    keys = [
        {"pk": {"S": "a"}, "sk": {"N": "7"}},
        {"pk": {"S": "a"}, "sk": {"N": "7.0"}},
        {"pk": {"S": "b"}, "sk": {"N": "1"}},
    ]
    selection = selection_from_keys(keys, COMPOSITE)
    assert len(selection) == 2
    assert {"pk": {"S": "a"}, "sk": {"N": "7.00"}, "other": {"S": "x"}} in selection
    assert {"pk": {"S": "a"}, "sk": {"N": "8"}} not in selection
    assert [text for text, _ in selection.key_texts()] == [
        '{"pk":{"S":"a"},"sk":{"N":"7"}}',
        '{"pk":{"S":"b"},"sk":{"N":"1"}}',
    ]


def test_a_plans_report_lines_and_plain_keys_both_read_as_keys() -> None:
    lines = [
        b'{"change":"missing","key":{"book_id":{"S":"a"}}}',
        b"",
        b'{"change":"changed","key":{"book_id":{"S":"b"}},"attributes":["status"]}',
        b'{"book_id": {"S": "c"}}',
    ]
    selection = selection_from_lines(lines, SCHEMA, "plan.jsonl")
    assert [key["book_id"]["S"] for key in selection.keys] == ["a", "b", "c"]


def test_the_request_keys_are_not_changed_in_place() -> None:
    keys = [{"pk": {"S": "a"}, "sk": {"N": "1"}}]
    selection_from_keys(keys, COMPOSITE)
    binary = key_schema_from_json([{"AttributeName": "id", "KeyType": "HASH", "AttributeType": "B"}])
    given = [{"id": {"B": "AQ=="}}]
    selection = selection_from_keys(given, binary)
    assert given == [{"id": {"B": "AQ=="}}]  # base64 decoded in a copy
    assert selection.keys[0] == {"id": {"B": b"\x01"}}


@pytest.mark.parametrize(
    ("lines", "problem"),
    [
        ([b'{"book_id": {"S": "a"}}', b"{oops"], "keys.jsonl, line 2: not JSON"),
        ([b'{"book_id": {"N": "1"}}'], "keys.jsonl, line 1: key attribute book_id must be a non-empty S"),
        ([b"", b"  "], "keys.jsonl holds no keys"),
        (
            [b'{"change": "missing", "key": "a"}'],
            "keys.jsonl, line 1: the report line's key must be a JSON object",
        ),
    ],
)
def test_a_bad_keys_file_is_refused_naming_the_line(lines: list[bytes], problem: str) -> None:
    with pytest.raises(InvalidRequest, match=problem):
        selection_from_lines(lines, SCHEMA, "keys.jsonl")
