"""Cutting a Scan page's items out as text: each text is exactly the item, the rest is the page's."""

import json
from typing import Any

import pytest

from devtools.edge_items import edge_items
from devtools.ledger_items import ledger_items
from ledger_backup.aws.wire_pages import split_items
from ledger_backup.codec import encode_item, loads_items_json

ITEMS: list[dict[str, Any]] = edge_items() + list(ledger_items(5))


def test_each_text_is_one_item_as_sent_and_the_rest_is_parsed() -> None:
    page = {"Items": ITEMS, "Count": len(ITEMS), "ScannedCount": 9, "LastEvaluatedKey": {"pk": {"B": "AQ=="}}}
    texts, rest = split_items(encode_item(page))
    assert [loads_items_json(text) for text in texts] == ITEMS  # B/BS stay base64 text until decoded
    assert rest == {"Count": len(ITEMS), "ScannedCount": 9, "LastEvaluatedKey": {"pk": {"B": "AQ=="}}}


def test_member_order_and_whitespace_do_not_matter() -> None:
    text = (
        ' {\n "Count" : 2 ,\r\n\t"Items" : [ {"a":{"S":"x"}} ,\n{"b" : {"N":"1"}} ] , "ScannedCount":2 } \n'
    )
    texts, rest = split_items(text)
    assert texts == ['{"a":{"S":"x"}}', '{"b" : {"N":"1"}}']
    assert rest == {"Count": 2, "ScannedCount": 2}


def test_items_named_like_the_array_inside_an_item_are_part_of_that_item() -> None:
    item = {"Items": {"L": [{"M": {"Items": {"S": "]},{"}}}]}, "s": {"S": '"Items":[{'}}
    texts, _ = split_items(json.dumps({"Items": [item, item], "Count": 2}, ensure_ascii=False))
    assert [json.loads(t) for t in texts] == [item, item]


@pytest.mark.parametrize("page", ['{"Items":[],"Count":0}', '{"Count":0}', "{}", '{"Items":[]}'])
def test_pages_without_items(page: str) -> None:
    texts, rest = split_items(page)
    assert texts == []
    assert rest == {k: v for k, v in json.loads(page).items() if k != "Items"}


def test_non_ascii_and_escapes_are_kept_as_sent() -> None:
    text = '{"Items":[{"s":{"S":"日本語 \\u00e9 \\"q\\" \\\\"}}],"Count":1}'
    texts, _ = split_items(text)
    assert texts == ['{"s":{"S":"日本語 \\u00e9 \\"q\\" \\\\"}}']
    assert json.loads(texts[0]) == {"s": {"S": '日本語 é "q" \\'}}


@pytest.mark.parametrize(
    "page",
    [
        "",
        "[]",
        '{"Items":[1]}',
        '{"Items":[{"a":{"S":"x"}} {"b":{"S":"y"}}]}',
        '{"Items":[{"a":{"S":"x"}}],"Count":1} trailing',
        '{"Items":[{"a":{"S":"x"}}',
        '{"Items":[{"a":{"S":"x"}}]',
        '{"Items":[{"a":{"S":"x"}]}',
        '{"Count":1 "Items":[]}',
        "{Count:1}",
    ],
)
def test_anything_but_a_whole_page_is_refused(page: str) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - json.JSONDecodeError or the splitter's own, both ValueError
        split_items(page)
