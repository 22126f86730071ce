"""Scan pages as their items' JSON texts, never decoded: the text a backup line holds.

A backup line is `{"Item": <the item as DynamoDB sent it>}`: DynamoDB's wire format is the
backup's format (B/BS as base64 text included), so decoding every item only to encode it
again would be wasted work. A TextScanner scans through a client of its own that is built
in one mode: its `before-parse` handler cuts every Scan page into item texts
(aws.wire_pages) and puts them in the parsed page, where `page()` takes them out. The
client the scanner is made from is never changed.
"""

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, Unpack

from ledger_backup.aws.clients import dynamodb_client_like
from ledger_backup.aws.wire_pages import split_items
from ledger_backup.codec import Item, encode_item

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import ScanInputTypeDef

_TEXTS = "ledger_backup.scan_texts"  # member of a parsed page of the scanner's own client; handler id


@dataclass(frozen=True)
class ItemTextPage:
    """One Scan page: each item's DynamoDB JSON text (B/BS as base64), and where the next page starts."""

    texts: list[str]
    last_evaluated_key: Item | None


class ItemTextPages(Protocol):
    """Where a backup reads its Scan pages from: a TextScanner, or a stand-in in tests."""

    def pages(self, **scan_params: Unpack["ScanInputTypeDef"]) -> Iterator[ItemTextPage]:
        """Page after page from ExclusiveStartKey (or the start) to the end of the table or segment."""
        ...


class TextScanner:
    """Scan calls that answer item texts; thread-safe, so one scanner serves every segment of a scan."""

    def __init__(self, client: "DynamoDBClient") -> None:
        """Scan through a client made like `client` (see clients.dynamodb_client_like)."""
        self._client = dynamodb_client_like(client)
        self._client.meta.events.register("before-parse.dynamodb.Scan", _cut_items, unique_id=_TEXTS)

    @property
    def client(self) -> "DynamoDBClient":
        """The client this scanner scans through (its own, in item-text mode)."""
        return self._client

    def page(self, **scan_params: Unpack["ScanInputTypeDef"]) -> ItemTextPage:
        """One Scan call with these parameters."""
        response = self._client.scan(**scan_params)
        parsed: Mapping[str, object] = response
        texts = parsed.get(_TEXTS)
        if not isinstance(texts, list):  # a page the handler could not cut up, parsed by botocore
            texts = [encode_item(item) for item in response["Items"]]
        return ItemTextPage(texts, response.get("LastEvaluatedKey"))

    def pages(self, **scan_params: Unpack["ScanInputTypeDef"]) -> Iterator[ItemTextPage]:
        """Page after page from ExclusiveStartKey (or the start) to the end of the table or segment."""
        params = scan_params.copy()
        while True:
            page = self.page(**params)
            yield page
            if page.last_evaluated_key is None:
                return
            params["ExclusiveStartKey"] = page.last_evaluated_key


def _cut_items(response_dict: dict[str, Any], customized_response_dict: dict[str, Any], **_: Any) -> None:
    """before-parse: keep a successful page's items as text; botocore parses only what is left."""
    body = response_dict.get("body")
    if response_dict.get("status_code") != 200 or not body:
        return
    try:
        texts, rest = split_items(body.decode("utf-8"))
    except ValueError:
        return  # not a page this can cut up: botocore parses it and reports what is wrong
    customized_response_dict["Items"] = []
    customized_response_dict[_TEXTS] = texts
    response_dict["body"] = json.dumps(rest).encode("utf-8")  # Count, LastEvaluatedKey: botocore's
