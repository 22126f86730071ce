"""The content digest: equal for the same items in any order, different for any changed value."""

import copy
import json
import random
from typing import Any

import pytest

from devtools.edge_items import edge_items
from devtools.ledger_items import ledger_items
from ledger_backup.restore import digest as digest_module
from ledger_backup.restore.digest import (
    ContentDigest,
    canonical_key_text,
    canonical_number,
    canonical_value_bytes,
)

ITEMS = edge_items() + list(ledger_items(20))


def digest(items: list[dict[str, Any]]) -> tuple[int, str]:
    accumulator = ContentDigest()
    for item in items:
        accumulator.add(item)
    return accumulator.items, accumulator.hexdigest


def test_order_of_items_attributes_and_set_members_does_not_matter() -> None:
    shuffled = copy.deepcopy(ITEMS)
    random.Random(3).shuffle(shuffled)
    for item in shuffled:
        for value in item.values():
            for kind in ("SS", "NS", "BS"):
                if kind in value:
                    value[kind].reverse()
    reordered = [dict(reversed(list(item.items()))) for item in shuffled]
    assert digest(reordered) == digest(ITEMS)


@pytest.mark.parametrize(("a", "b"), [("1.50", "1.5"), ("100", "1E+2"), ("-0", "0"), ("0.000", "0")])
def test_numbers_compare_by_value_as_dynamodb_normalises_them(a: str, b: str) -> None:
    assert canonical_number(a) == canonical_number(b)
    assert digest([{"n": {"N": a}}]) == digest([{"n": {"N": b}}])


def test_38_digit_numbers_are_never_rounded_together() -> None:
    big = "99999999999999999999999999999999999999"
    assert canonical_number(big) != canonical_number("99999999999999999999999999999999999998")
    assert canonical_number(big) == big


@pytest.mark.parametrize(
    "change",
    [
        lambda item: item["s"].update(S="other"),
        lambda item: item["b"].update(B=b"\x00"),
        lambda item: item.pop("null"),
        lambda item: item.update(extra={"BOOL": True}),
        lambda item: item["n"].update(N="43"),
    ],
)
def test_any_change_changes_the_digest(change: Any) -> None:
    changed = copy.deepcopy(ITEMS)
    change(changed[0])  # the all-scalar-types item
    assert digest(changed)[1] != digest(ITEMS)[1]


def test_a_missing_or_duplicated_item_is_seen() -> None:
    assert digest(ITEMS[1:]) != digest(ITEMS)
    assert digest([*ITEMS, ITEMS[0]]) != digest(ITEMS)
    assert digest([])[1] == "0" * 64


# canonical_value_bytes: the plan's per-attribute identity (restore/plan.py).


def _text(value: dict[str, Any]) -> bytes:
    return canonical_value_bytes(value)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ({"N": "1.50"}, {"N": "1.5"}),
        ({"N": "15E-1"}, {"N": "1.5"}),
        ({"N": "-0"}, {"N": "0"}),
        ({"SS": ["b", "a"]}, {"SS": ["a", "b"]}),
        ({"NS": ["2", "1.0"]}, {"NS": ["1", "2"]}),
        ({"BS": [b"\x02", b"\x01"]}, {"BS": [b"\x01", b"\x02"]}),
        ({"M": {"b": {"N": "007"}, "a": {"S": "x"}}}, {"M": {"a": {"S": "x"}, "b": {"N": "7"}}}),
        ({"L": [{"M": {"n": {"N": "36.190"}}}]}, {"L": [{"M": {"n": {"N": "36.19"}}}]}),
        (
            {"M": {"s": {"SS": ["z", "y"]}, "n": {"N": "1e2"}}},
            {"M": {"n": {"N": "100"}, "s": {"SS": ["y", "z"]}}},
        ),
    ],
)
def test_equal_values_have_equal_canonical_texts(a: dict[str, Any], b: dict[str, Any]) -> None:
    assert _text(a) == _text(b)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ({"S": "1"}, {"N": "1"}),
        ({"S": "a"}, {"SS": ["a"]}),
        ({"N": "1.5"}, {"N": "1.51"}),
        ({"L": [{"S": "a"}, {"S": "b"}]}, {"L": [{"S": "b"}, {"S": "a"}]}),  # a list's order counts
        ({"B": b"\x01"}, {"S": "AQ=="}),
        ({"M": {"N": {"S": "x"}}}, {"M": {"N": {"S": "y"}}}),  # a member named like a type tag
        ({"S": 'x","N":"1'}, {"S": "x"}),  # quotes inside a string are data
        ({"BOOL": True}, {"NULL": True}),
    ],
)
def test_different_values_have_different_canonical_texts(a: dict[str, Any], b: dict[str, Any]) -> None:
    assert _text(a) != _text(b)


def test_the_fast_text_matches_the_member_by_member_one_for_every_edge_item() -> None:
    """Values without sets take the value's own JSON with numbers respelled; it must equal the slow way."""
    for item in edge_items():
        for value in item.values():
            (kind,) = value
            if kind in ("S", "SS"):
                continue
            slow = digest_module._ENCODER.encode(digest_module._canonical(value))
            assert _text(value) == slow.encode("utf-8", "surrogatepass")


@pytest.mark.parametrize(
    "value",
    [
        {"M": {"a": {"S": "\ud800"}}},  # a lone surrogate, which orjson does not encode
        {"SS": ["\ud800", "a"]},
        {"L": [{"S": 'x\u001f\u2028é"\\/'}]},
    ],
    ids=["surrogate-in-map", "surrogate-in-set", "escapes"],
)
def test_texts_orjson_cannot_encode_take_the_json_modules_and_stay_canonical(value: dict[str, Any]) -> None:
    slow = digest_module._ENCODER.encode(digest_module._canonical(value))
    assert _text(value) == slow.encode("utf-8", "surrogatepass")


@pytest.mark.parametrize(
    "key",
    [{"pk": {"S": "a\ud800"}}, {"pk": {"N": "1.50"}}, {"pk": {"B": b"\x00\xff"}}, {"pk": {"S": 'q"\\é'}}],
    ids=["surrogate", "number", "binary", "escapes"],
)
def test_key_texts_are_the_compact_sorted_json_of_the_canonical_key(key: dict[str, Any]) -> None:
    expected = json.dumps(
        {"pk": digest_module._canonical(key["pk"])}, sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )
    assert canonical_key_text(key, ["pk"]) == expected
