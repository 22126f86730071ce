"""The codec copies items exactly: every type, binary at any depth, names that look like types."""

import json
from typing import Any

import pytest

from devtools.edge_items import edge_items
from devtools.ledger_items import ledger_items
from ledger_backup.codec import (
    decode_line,
    decode_stored_line,
    encode_item,
    encode_line,
    encode_put_request,
    item_from_document,
    loads_items_json,
    put_request_from_line,
)


@pytest.mark.parametrize(
    "item", edge_items() + list(ledger_items(20)), ids=lambda i: str(i.get("pk", i.get("book_id")))
)
def test_every_item_round_trips_exactly(item: dict[str, Any]) -> None:
    assert decode_line(encode_line(item)) == item


def test_line_is_dynamodb_export_format_with_base64_binary() -> None:
    line = encode_line(
        {"pk": {"S": "k"}, "b": {"B": b"\x00\xff"}, "bs": {"BS": [b"\x01"]}, "n": {"N": "1.50"}}
    )
    assert "\n" not in line
    assert json.loads(line) == {
        "Item": {"pk": {"S": "k"}, "b": {"B": "AP8="}, "bs": {"BS": ["AQ=="]}, "n": {"N": "1.50"}}
    }


def test_numbers_are_never_reformatted() -> None:
    digits = "-1.2345678901234567890123456789012345678E-100"
    assert decode_line(encode_line({"n": {"N": digits}})) == {"n": {"N": digits}}


def test_attributes_named_like_types_are_not_decoded() -> None:
    item = {"B": {"S": "QUJD"}, "BS": {"L": [{"S": "QUJD"}]}, "M": {"M": {"B": {"S": "QUJD"}}}}
    assert decode_line(encode_line(item)) == item


def test_binary_decoded_at_every_depth() -> None:
    text = '{"Item":{"m":{"M":{"l":{"L":[{"B":"AQI="},{"BS":["AA==","/w=="]}]}}}}}'
    assert decode_line(text) == {"m": {"M": {"l": {"L": [{"B": b"\x01\x02"}, {"BS": [b"\x00", b"\xff"]}]}}}}


def test_non_ascii_is_written_as_utf8_not_escaped() -> None:
    assert "日本語" in encode_line({"pk": {"S": "日本語"}})


def test_encode_item_is_plain_dynamodb_json() -> None:
    assert json.loads(encode_item({"b": {"B": b"\x01"}})) == {"b": {"B": "AQ=="}}


def test_loads_items_json_accepts_bytes() -> None:
    assert loads_items_json(b'{"x":{"B":"AQ=="}}') == {"x": {"B": b"\x01"}}


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ('{"Item": {"b": {"B": "not base64!"}}}', "invalid base64"),
        ('{"Items": []}', "not of the form"),
        ("[1, 2]", "not of the form"),
        ('{"Item": ', "Expecting value"),
    ],
)
def test_bad_lines_raise_value_error_naming_the_problem(line: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        decode_line(line)


def test_encoding_refuses_python_values_that_are_not_dynamodb_json() -> None:
    with pytest.raises(TypeError, match="not a DynamoDB attribute value"):
        encode_line({"x": {"N": object()}})


def test_binary_keys_spelled_with_escapes_are_still_decoded() -> None:
    assert loads_items_json('{"x":{"\\u0042":"AQ=="}}') == {"x": {"B": b"\x01"}}


def test_strings_starting_with_b_are_left_alone() -> None:
    assert decode_line('{"Item":{"name":{"S":"Blue Moon"},"b":{"S":"BS"}}}') == {
        "name": {"S": "Blue Moon"},
        "b": {"S": "BS"},
    }


@pytest.mark.parametrize(
    "item", edge_items() + list(ledger_items(3)), ids=lambda i: str(i.get("pk", i.get("book_id")))
)
def test_a_stored_line_is_sent_as_the_put_request_it_already_is(item: dict[str, Any]) -> None:
    line = encode_line(item).encode("utf-8") + b"\n"
    decoded, stored_line = decode_stored_line(line)
    assert decoded == item
    assert stored_line is not None
    request = put_request_from_line(stored_line)
    assert request == b'{"PutRequest":' + line[:-1] + b"}"  # the stored bytes, not a re-encoding
    assert loads_items_json(request) == {"PutRequest": {"Item": item}}
    assert request == encode_put_request(item)


def test_a_line_with_more_than_the_item_is_read_but_not_sent_as_stored() -> None:
    item, stored_line = decode_stored_line(b'{"Item":{"pk":{"S":"k"}},"Keys":{"pk":{"S":"k"}}}\n')
    assert item == {"pk": {"S": "k"}}
    assert stored_line is None


@pytest.mark.parametrize(
    "line",
    [
        b'\xef\xbb\xbf{"Item":{"pk":{"S":"k"}}}\n',  # a byte-order mark would be spliced into the request
        '{"Item":{"pk":{"S":"k"}}}\n'.encode("utf-16"),
        b'{"Item":{"pk":{"S":"\xff"}}}\n',
        b'{"Item":{"pk":{"S":"k"}}} {"Item":{}}\n',
    ],
)
def test_stored_lines_must_be_exactly_one_utf8_json_object(line: bytes) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - UnicodeDecodeError and JSONDecodeError alike
        decode_stored_line(line)


DEEP = 50_000  # far past json's recursion limit


@pytest.mark.parametrize("attribute", ["a", "B"], ids=["fast-path", "binary-hook"])
def test_nesting_too_deep_for_json_is_a_value_error_not_a_recursion_error(attribute: str) -> None:
    line = '{"Item":{"%s":%s{"S":"x"}%s}}' % (attribute, '{"L":[' * DEEP, "]}" * DEEP)  # noqa: UP031
    for parse in (decode_line, lambda text: decode_stored_line(text.encode())):
        with pytest.raises(ValueError, match="nesting too deep"):
            parse(line)


def test_item_from_document_refuses_deep_nesting_with_a_value_error() -> None:
    value: dict[str, Any] = {"S": "x"}
    for _ in range(DEEP):
        value = {"L": [value]}
    with pytest.raises(ValueError, match="attribute deep: nesting too deep"):
        item_from_document({"deep": value})


def test_nesting_within_json_limits_still_parses() -> None:
    line = '{"Item":{"a":%s{"S":"x"}%s}}' % ('{"L":[' * 40, "]}" * 40)  # noqa: UP031
    assert decode_line(line)["a"]["L"][0]["L"][0]


# What orjson refuses and the json module reads (or refuses with its own message): each goes to json.
JSON_ONLY_TEXTS = [
    b'{"Item":{"a":{"S":"\\ud800"}}}',  # a lone surrogate
    b'{"Item":{"a":{"N":NaN}}}',
    b'{"Item":{"a":{"N":Infinity}}}',
    b'{"Item":{"a":{"N":1e400}}}',
    b'{"Item":{"a":{"S":"x"}},"Item":{"b":{"S":"y"}}}',  # the later of two equal names
    b'{"Item":{"a":{"S":"x"}}} trailing',
    b'\xef\xbb\xbf{"Item":{"a":{"S":"x"}}}',  # a byte-order mark
    b'{"Item":{"a":{"S":"\xff"}}}',  # not UTF-8
    b"[" * 2000 + b"]" * 2000,
]


def _json_module_only(line: bytes) -> object:
    """What the line gave before orjson: json.loads of its strict UTF-8 text, or the error's type."""
    try:
        return json.loads(line.decode("utf-8"))
    except (ValueError, RecursionError):
        return ValueError


@pytest.mark.parametrize("line", JSON_ONLY_TEXTS, ids=lambda line: repr(line[:24]))
def test_what_orjson_refuses_is_read_as_the_json_module_reads_it(line: bytes) -> None:
    expected = _json_module_only(line)
    if expected is ValueError:
        with pytest.raises(ValueError):  # noqa: PT011 - json's own message, whatever it is
            decode_stored_line(line)
        return
    assert isinstance(expected, dict)
    assert decode_stored_line(line)[0] == expected["Item"]


@pytest.mark.parametrize(
    "item", edge_items() + list(ledger_items(20)), ids=lambda i: str(i.get("pk", i.get("book_id")))
)
def test_stored_lines_parse_as_the_json_module_parses_them(item: dict[str, Any]) -> None:
    line = (encode_line(item) + "\n").encode("utf-8")
    assert decode_stored_line(line) == (item, line)
    assert loads_items_json(line) == loads_items_json(line.decode("utf-8")) == {"Item": item}
