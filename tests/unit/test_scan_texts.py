"""TextScanner: Scan pages as item texts, equal to botocore's items, through a client of its own.

Runs against DynamoDB Local (the session's local services); the handler and the fallback
for a page it cannot cut are also checked without it.
"""

import json
import threading
from typing import TYPE_CHECKING, Any

import boto3
import pytest
from botocore.config import Config
from botocore.stub import Stubber

from devtools.edge_items import edge_items
from devtools.tables import create_table, load_items
from ledger_backup.aws.clients import dynamodb_client, dynamodb_client_like
from ledger_backup.aws.scan_texts import ItemTextPage, TextScanner, _cut_items
from ledger_backup.codec import encode_item, loads_items_json

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

pytestmark = pytest.mark.integration

ITEMS: list[dict[str, Any]] = edge_items() + [
    {"pk": {"S": f"k{n:03d}"}, "b": {"B": bytes([n, 0, 255])}, "n": {"N": f"{n}.5"}} for n in range(60)
]


@pytest.fixture
def table(dynamodb: "DynamoDBClient", unique_name: str) -> str:
    name = f"texts-{unique_name}"
    create_table(dynamodb, name, hash_key="pk")
    load_items(dynamodb, name, ITEMS)
    return name


def _stock_pages(client: "DynamoDBClient", **params: Any) -> list[dict[str, Any]]:
    pages: list[dict[str, Any]] = []
    while True:
        page: Any = client.scan(**params)
        pages.append(page)
        if "LastEvaluatedKey" not in page:
            return pages
        params["ExclusiveStartKey"] = page["LastEvaluatedKey"]


@pytest.mark.parametrize("segment", [0, 1])
def test_pages_hold_the_items_botocore_returns_as_text(
    dynamodb: "DynamoDBClient", table: str, segment: int
) -> None:
    params: dict[str, Any] = {
        "TableName": table,
        "Segment": segment,
        "TotalSegments": 2,
        "Limit": 7,
        "ConsistentRead": True,
    }
    text_pages = list(TextScanner(dynamodb_client()).pages(**params))
    stock_pages = _stock_pages(dynamodb, **params)

    assert len(text_pages) == len(stock_pages) > 2
    for text_page, stock_page in zip(text_pages, stock_pages, strict=True):
        assert [loads_items_json(text) for text in text_page.texts] == stock_page["Items"]
        assert text_page.last_evaluated_key == stock_page.get("LastEvaluatedKey")
    assert all(isinstance(text, str) for page in text_pages for text in page.texts)
    # B values stay base64 text, as DynamoDB sent them and a backup line holds them
    first = json.loads(text_pages[0].texts[0])
    assert first == json.loads(encode_item(stock_pages[0]["Items"][0]))


def test_pages_start_at_the_exclusive_start_key(dynamodb: "DynamoDBClient", table: str) -> None:
    scanner = TextScanner(dynamodb)
    first = scanner.page(TableName=table, Limit=10, ConsistentRead=True)
    assert first.last_evaluated_key is not None
    rest = list(
        scanner.pages(
            TableName=table, Limit=10, ConsistentRead=True, ExclusiveStartKey=first.last_evaluated_key
        )
    )
    texts = first.texts + [text for page in rest for text in page.texts]
    assert sorted(loads_items_json(text)["pk"]["S"] for text in texts) == sorted(i["pk"]["S"] for i in ITEMS)
    assert rest[-1].last_evaluated_key is None


def test_the_client_it_is_made_from_stays_stock_while_it_scans(table: str) -> None:
    """A plain client scanned through directly in one thread while a scanner made from it scans in another."""
    plain = boto3.client("dynamodb")
    scanner = TextScanner(plain)
    expected = sorted((i for p in _stock_pages(plain, TableName=table) for i in p["Items"]), key=_pk)
    assert len(expected) == len(ITEMS)
    start = threading.Barrier(2)
    found: dict[str, list[Any]] = {}

    def by_scanner() -> None:
        start.wait()
        for _ in range(3):
            texts = [
                t for page in scanner.pages(TableName=table, Limit=5, ConsistentRead=True) for t in page.texts
            ]
            found.setdefault("texts", []).append(sorted((loads_items_json(t) for t in texts), key=_pk))

    def by_plain_client() -> None:
        start.wait()
        for _ in range(3):
            pages = _stock_pages(plain, TableName=table, Limit=5, ConsistentRead=True)
            found.setdefault("plain", []).append(sorted((i for p in pages for i in p["Items"]), key=_pk))
            found.setdefault("plain members", []).extend(set(page) for page in pages)

    threads = [threading.Thread(target=by_scanner), threading.Thread(target=by_plain_client)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert found["texts"] == [expected] * 3
    assert found["plain"] == [expected] * 3
    stock_members = {"Items", "Count", "ScannedCount", "LastEvaluatedKey", "ResponseMetadata"}
    assert all(members <= stock_members for members in found["plain members"])


def _pk(item: dict[str, Any]) -> str:
    return str(item["pk"]["S"])


def test_the_scanners_client_is_made_like_the_given_one() -> None:
    given = boto3.client(
        "dynamodb",
        region_name="eu-west-3",
        endpoint_url="http://127.0.0.1:1",
        aws_access_key_id="AKIDEXAMPLE",
        aws_secret_access_key="secret",  # noqa: S106 - made up: this client never connects
        config=Config(
            max_pool_connections=7, read_timeout=11, retries={"mode": "standard", "total_max_attempts": 3}
        ),
    )
    like = dynamodb_client_like(given)
    assert like is not given
    assert like.meta.region_name == "eu-west-3"
    assert like.meta.endpoint_url == "http://127.0.0.1:1"
    config: Any = like.meta.config
    assert config.max_pool_connections == 7
    assert config.read_timeout == 11
    assert config.retries == {"mode": "standard", "total_max_attempts": 3}
    assert like._request_signer._credentials is given._request_signer._credentials  # type: ignore[attr-defined]


def test_a_page_the_handler_cannot_cut_is_parsed_by_botocore_and_encoded() -> None:
    scanner = TextScanner(
        boto3.client("dynamodb", region_name="us-east-1", endpoint_url="http://127.0.0.1:1")
    )
    item = {"pk": {"S": "k"}, "b": {"B": b"\x00\xff"}, "n": {"N": "1E+125"}}
    with Stubber(scanner._client) as stub:  # answers before the handler runs: the botocore-parsed case
        stub.add_response("scan", {"Items": [item], "Count": 1, "LastEvaluatedKey": {"pk": {"S": "k"}}})
        page = scanner.page(TableName="t")
    assert page == ItemTextPage(
        texts=['{"pk":{"S":"k"},"b":{"B":"AP8="},"n":{"N":"1E+125"}}'], last_evaluated_key={"pk": {"S": "k"}}
    )


def test_the_handler_cuts_a_page_and_leaves_anything_else_to_botocore() -> None:
    body = b'{"Count":1,"Items":[{"pk":{"S":"k"}}],"LastEvaluatedKey":{"pk":{"S":"k"}}}'
    response: dict[str, Any] = {"status_code": 200, "body": body}
    customized: dict[str, Any] = {}
    _cut_items(response_dict=response, customized_response_dict=customized)
    assert customized == {"Items": [], "ledger_backup.scan_texts": ['{"pk":{"S":"k"}}']}
    assert json.loads(response["body"]) == {"Count": 1, "LastEvaluatedKey": {"pk": {"S": "k"}}}

    for untouched in (
        {"status_code": 400, "body": b'{"__type":"x#ValidationException","message":"no"}'},
        {"status_code": 200, "body": b'{"Items":[1]}'},
        {"status_code": 200, "body": b""},
    ):
        before = dict(untouched)
        customized = {}
        _cut_items(response_dict=untouched, customized_response_dict=customized)
        assert untouched == before
        assert customized == {}
