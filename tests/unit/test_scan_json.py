"""The fast-json Scan mode of dynamodb_client(): the same pages as a stock client, items parsed by json."""

import json
from typing import TYPE_CHECKING, Any

import boto3
import pytest

from devtools.edge_items import edge_items
from devtools.tables import create_table, load_items
from ledger_backup.aws.clients import dynamodb_client
from ledger_backup.aws.scan_json import _parse_items

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

pytestmark = pytest.mark.integration

ITEMS: list[dict[str, Any]] = edge_items() + [
    {"pk": {"S": f"k{n:03d}"}, "b": {"B": bytes([n, 0])}, "m": {"M": {"BS": {"BS": [b"\x01"]}}}}
    for n in range(30)
]


def _pages(client: "DynamoDBClient", table: str) -> list[dict[str, Any]]:
    pages = client.get_paginator("scan").paginate(
        TableName=table, ConsistentRead=True, PaginationConfig={"PageSize": 4}
    )
    return [{name: value for name, value in page.items() if name != "ResponseMetadata"} for page in pages]


@pytest.mark.parametrize("fast_json", [True, False])
def test_pages_equal_a_stock_clients(dynamodb: "DynamoDBClient", unique_name: str, fast_json: bool) -> None:
    table = f"json-{unique_name}"
    create_table(dynamodb, table, hash_key="pk")
    load_items(dynamodb, table, ITEMS)
    ours = _pages(dynamodb_client(fast_json=fast_json), table)
    stock = _pages(boto3.client("dynamodb"), table)
    assert len(ours) > 2
    assert ours == stock
    assert sum(len(page["Items"]) for page in ours) == len(ITEMS)


def test_the_handler_parses_the_items_and_leaves_the_rest_to_botocore() -> None:
    body = b'{"Count":1,"Items":[{"b":{"B":"AP8="},"n":{"N":"1.50"}}],"LastEvaluatedKey":{"b":{"B":"AQ=="}}}'
    response: dict[str, Any] = {"status_code": 200, "body": body}
    customized: dict[str, Any] = {}
    _parse_items(response_dict=response, customized_response_dict=customized)
    assert customized == {"Items": [{"b": {"B": b"\x00\xff"}, "n": {"N": "1.50"}}]}
    assert json.loads(response["body"]) == {"Count": 1, "LastEvaluatedKey": {"b": {"B": "AQ=="}}}

    error = {"status_code": 400, "body": b'{"__type":"x#ValidationException","message":"no"}'}
    before = dict(error)
    customized = {}
    _parse_items(response_dict=error, customized_response_dict=customized)
    assert (error, customized) == (before, {})
