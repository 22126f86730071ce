"""boto3 clients configured for bulk work: botocore's retries, enough connections, and JSON at C speed.

Endpoints come only from the standard AWS settings (AWS_ENDPOINT_URL_DYNAMODB,
AWS_ENDPOINT_URL_S3, ...): this code has no endpoint switches of its own.

Measured (`make bench`, 3.5 KB ledger items): botocore's model-driven parser and serializer
walk every attribute value in Python, about 1.4 ms of client CPU per item read by Scan and
1.6 ms per item written by BatchWriteItem (0.8 ms without parameter validation); with the
json module it is 0.3-0.4 ms, and DynamoDB, not the client, becomes the limit. Two botocore
event handlers move that work to the json module, with the same result:
- Scan responses: the Items are parsed by `codec.loads_items_json` (B/BS decoded to bytes,
  exactly as botocore returns them); botocore still parses the rest of the page. Always on:
  the output is the same as botocore's for anything DynamoDB sends. Inside
  `scanned_item_texts()` the items are not decoded at all: the page carries each item's
  JSON text under ITEM_TEXTS (see wire_pages), which is all a backup needs.
- BatchWriteItem requests: inside `json_encoded_requests()`, the whole request is encoded
  with `codec.encode_item` and botocore serializes (and validates) a one-request placeholder
  whose body is then replaced. Opt-in, because botocore also accepts non-canonical input
  (a B value given as str, sets for SS) that it would encode differently; callers that
  pass items as the client returns them (B/BS as bytes) may use it. `json_batch_sender`
  goes one step further and sends write requests that are JSON text already (a backup
  line is a PutRequest), so a restore does not encode its items at all.
Signing, retries, endpoint resolution and the CRC32 check on responses stay botocore's.
"""

import json
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from functools import partial
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config

from ledger_backup.aws.wire_pages import split_items
from ledger_backup.codec import encode_item, loads_items_json

if TYPE_CHECKING:
    from botocore.config import _RetryDict
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import BatchWriteItemOutputTypeDef
    from mypy_boto3_s3 import S3Client

# "standard" retries throttling (ProvisionedThroughputExceeded, ThrottlingException, RequestLimitExceeded),
# 5xx and connection errors with exponential backoff and jitter; total_max_attempts counts the first call too.
_RETRIES: "_RetryDict" = {"mode": "standard", "total_max_attempts": 10}

ITEM_TEXTS = "ledger_backup.ItemTexts"  # Scan page key, inside scanned_item_texts(): each item's JSON text

_json_requests = threading.local()
_item_texts = threading.local()
_BODY = "ledger_backup.json_body"  # request-context key: the pre-encoded body of this call
_PLACEHOLDER: list[dict[str, Any]] = [{"PutRequest": {"Item": {}}}]


def dynamodb_client(max_connections: int = 16) -> "DynamoDBClient":
    """A thread-safe client; share one between the worker threads."""
    config = Config(
        retries=_RETRIES, max_pool_connections=max_connections, connect_timeout=5, read_timeout=30
    )
    client = boto3.client("dynamodb", config=config)
    _install_json_handlers(client)
    return client


def _install_json_handlers(client: "DynamoDBClient") -> None:
    """Register the event handlers below; registering them again (same unique ids) changes nothing."""
    events = client.meta.events
    events.register("before-parse.dynamodb.Scan", _parse_items_with_json, unique_id=_BODY + ".scan")
    events.register(  # botocore uses the handler's return value here; the stubs type it as None
        "provide-client-params.dynamodb.BatchWriteItem",
        _encode_with_json,  # type: ignore[arg-type]
        unique_id=_BODY + ".encode",
    )
    events.register("before-call.dynamodb.BatchWriteItem", _send_encoded_body, unique_id=_BODY + ".send")


def s3_client(max_connections: int = 16) -> "S3Client":
    config = Config(
        retries=_RETRIES, max_pool_connections=max_connections, connect_timeout=5, read_timeout=60
    )
    return boto3.client("s3", config=config)


@contextmanager
def json_encoded_requests() -> Iterator[None]:
    """BatchWriteItem calls made by this thread inside the block are encoded with the json module.

    Only for items as the low-level client returns them (B/BS as bytes): the request is sent
    as `codec.encode_item` writes it, and only its table names are validated client-side.
    """
    _json_requests.enabled = True
    try:
        yield
    finally:
        _json_requests.enabled = False


@contextmanager
def scanned_item_texts() -> Iterator[None]:
    """Scan pages this thread fetches inside the block hold their items as JSON text, not values.

    Each page's `ITEM_TEXTS` lists the items' texts as DynamoDB sent them (B/BS as base64,
    which is what a backup line holds) and its `Items` is empty; a page that cannot be cut
    up that way is parsed as usual and has no `ITEM_TEXTS`.
    """
    _item_texts.enabled = True
    try:
        yield
    finally:
        _item_texts.enabled = False


def json_batch_sender(
    dynamodb: "DynamoDBClient",
) -> Callable[[str, Sequence[bytes]], "BatchWriteItemOutputTypeDef"]:
    """`send(table_name, write_requests)`: BatchWriteItem of requests that are JSON text already.

    Any client will do, not only dynamodb_client()'s: the handlers are installed on it here,
    once (installing costs about 0.1 ms, too much to repeat for every batch).
    """
    _install_json_handlers(dynamodb)
    return partial(_batch_write_json, dynamodb)


def _batch_write_json(
    dynamodb: "DynamoDBClient", table_name: str, write_requests: Sequence[bytes]
) -> "BatchWriteItemOutputTypeDef":
    """One BatchWriteItem with write requests such as `{"PutRequest":{"Item":...}}` as JSON text.

    The caller vouches for the text: each entry one JSON object (parsed and checked before it
    got here), so that the request is exactly the list given. The response is botocore's.
    """
    body = b"".join(
        (b'{"RequestItems":{', json.dumps(table_name).encode(), b":[", b",".join(write_requests), b"]}}")
    )
    _json_requests.body = body
    try:
        return dynamodb.batch_write_item(RequestItems={table_name: _PLACEHOLDER})  # type: ignore[dict-item]
    finally:
        _json_requests.body = None


def _parse_items_with_json(
    response_dict: dict[str, Any], customized_response_dict: dict[str, Any], **_: Any
) -> None:
    """before-parse: take the Items out of a successful Scan page and parse them at C speed."""
    body = response_dict.get("body")
    if response_dict.get("status_code") != 200 or not body:
        return
    if getattr(_item_texts, "enabled", False):
        try:
            texts, rest = split_items(body.decode("utf-8"))
        except ValueError:
            pass  # not a page this can cut up: botocore parses it and reports what is wrong
        else:
            customized_response_dict["Items"] = []
            customized_response_dict[ITEM_TEXTS] = texts
            response_dict["body"] = json.dumps(rest).encode("utf-8")  # Count, LastEvaluatedKey: botocore's
            return
    page = loads_items_json(body)
    if not isinstance(page, dict) or not isinstance(page.get("Items"), list):
        return
    customized_response_dict["Items"] = page.pop("Items")
    response_dict["body"] = encode_item(page).encode("utf-8")  # Count, LastEvaluatedKey, ...: botocore's


def _encode_with_json(params: dict[str, Any], context: dict[str, Any], **_: Any) -> dict[str, Any] | None:
    """provide-client-params: keep the encoded request aside and let botocore build a placeholder."""
    request_items = params.get("RequestItems")
    if not isinstance(request_items, dict):
        return None
    prepared = getattr(_json_requests, "body", None)
    if prepared is not None:  # _batch_write_json: already a placeholder, the body is ready
        context[_BODY] = prepared
        return None
    if not getattr(_json_requests, "enabled", False):
        return None
    context[_BODY] = encode_item(params).encode("utf-8")
    return {**params, "RequestItems": dict.fromkeys(request_items, _PLACEHOLDER)}


def _send_encoded_body(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
    """before-call: send the request encoded above instead of the placeholder's body."""
    body = context.get(_BODY)
    if body is not None:
        params["body"] = body
