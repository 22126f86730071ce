"""TextBatchSender: stored lines sent as BatchWriteItem text store exactly what botocore's serializer would.

Against DynamoDB Local; the handlers act only on the calls `send` makes, so the same client
used the ordinary way (even at the same time, from another thread) stays stock.
"""

import threading
from typing import TYPE_CHECKING, Any

import boto3
import pytest
from botocore.exceptions import ParamValidationError

from devtools.edge_items import edge_items
from devtools.tables import create_table, load_items, scan_all
from ledger_backup.aws.write_json import TextBatchSender, _send_body, _take_body
from ledger_backup.codec import encode_line, put_request_from_line

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

pytestmark = pytest.mark.integration

ITEMS: list[dict[str, Any]] = edge_items() + [
    {"pk": {"S": f"k{n:03d}"}, "b": {"BS": [bytes([n]), b"\xff"]}, "n": {"N": f"-{n}.25"}} for n in range(40)
]


def _stored_lines(items: list[dict[str, Any]]) -> list[bytes]:
    """Each item as the restore sends it: its backup line, as the PutRequest it already is."""
    return [put_request_from_line(encode_line(item).encode("utf-8") + b"\n") for item in items]


def test_stored_lines_store_what_botocore_would(dynamodb: "DynamoDBClient", unique_name: str) -> None:
    as_text, by_botocore = f"lines-{unique_name}", f"lines-{unique_name}-botocore"
    for table in (as_text, by_botocore):
        create_table(dynamodb, table, hash_key="pk")
    sender = TextBatchSender(dynamodb)
    lines = _stored_lines(ITEMS)
    for start in range(0, len(lines), 25):
        response = sender.send(as_text, lines[start : start + 25])
        assert response["UnprocessedItems"] == {}
    load_items(dynamodb, by_botocore, ITEMS)
    stored = scan_all(dynamodb, as_text)
    assert stored == scan_all(dynamodb, by_botocore)
    assert len(stored) == len(ITEMS)


def test_the_same_client_used_the_ordinary_way_at_the_same_time_stays_stock(
    dynamodb: "DynamoDBClient", unique_name: str
) -> None:
    client = boto3.client("dynamodb")
    as_text, ordinary, reference = (
        f"both-{unique_name}{suffix}" for suffix in ("", "-ordinary", "-reference")
    )
    for table in (as_text, ordinary, reference):
        create_table(dynamodb, table, hash_key="pk")
    load_items(dynamodb, reference, ITEMS)
    expected = scan_all(dynamodb, reference)  # as DynamoDB stores them (numbers normalized, sets reordered)
    sender = TextBatchSender(client)
    start = threading.Barrier(2)
    texts, values = ITEMS[::2], ITEMS[1::2]

    def send_lines() -> None:
        start.wait()
        lines = _stored_lines(texts)
        for first in range(0, len(lines), 5):
            sender.send(as_text, lines[first : first + 5])

    def write_items() -> None:
        start.wait()
        for first in range(0, len(values), 5):
            batch = [{"PutRequest": {"Item": item}} for item in values[first : first + 5]]
            client.batch_write_item(RequestItems={ordinary: batch})  # type: ignore[dict-item]

    threads = [threading.Thread(target=send_lines), threading.Thread(target=write_items)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert scan_all(dynamodb, as_text) == {item["pk"]["S"]: expected[item["pk"]["S"]] for item in texts}
    assert scan_all(dynamodb, ordinary) == {item["pk"]["S"]: expected[item["pk"]["S"]] for item in values}


def test_another_client_knows_nothing_of_the_private_parameter(dynamodb: "DynamoDBClient") -> None:
    TextBatchSender(dynamodb)
    plain = boto3.client("dynamodb")
    params: dict[str, Any] = {
        "RequestItems": {"t": [{"PutRequest": {"Item": {}}}]},
        "LedgerBackupRequestBody": b"{}",
    }
    with pytest.raises(ParamValidationError, match="LedgerBackupRequestBody"):
        plain.batch_write_item(**params)


def test_the_handlers_leave_a_call_without_a_prepared_body_alone() -> None:
    params: dict[str, Any] = {"RequestItems": {"t": []}}
    context: dict[str, Any] = {}
    _take_body(params=params, context=context)
    assert params == {"RequestItems": {"t": []}}
    assert context == {}
    request: dict[str, Any] = {"body": b"as botocore serialized it"}
    _send_body(params=request, context=context)
    assert request == {"body": b"as botocore serialized it"}

    params["LedgerBackupRequestBody"] = b"prepared"
    _take_body(params=params, context=context)
    assert params == {"RequestItems": {"t": []}}
    _send_body(params=request, context=context)
    assert request == {"body": b"prepared"}
