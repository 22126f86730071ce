"""The `fast_json` mode of `clients.dynamodb_client`: Scan items parsed by the json module.

botocore's model-driven parser walks every attribute value in Python; `codec.loads_items_json`
parses the same JSON in C and gives the same values (B/BS decoded to bytes, numbers as
text), so a client in this mode answers Scan exactly as a stock one does. botocore still
parses the rest of the page (Count, LastEvaluatedKey, errors), and signing, retries and the
CRC32 check of the response stay its own.
"""

from typing import TYPE_CHECKING, Any

from ledger_backup.codec import encode_item, loads_items_json

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

_HANDLER_ID = "ledger_backup.scan_json"


def parse_scan_items_with_json(client: "DynamoDBClient") -> None:
    """Put `client` in the fast-json Scan mode for good; registering it again changes nothing."""
    client.meta.events.register("before-parse.dynamodb.Scan", _parse_items, unique_id=_HANDLER_ID)


def _parse_items(response_dict: dict[str, Any], customized_response_dict: dict[str, Any], **_: Any) -> None:
    """before-parse: take the Items out of a successful Scan page and parse them with the json module."""
    body = response_dict.get("body")
    if response_dict.get("status_code") != 200 or not body:
        return
    page = loads_items_json(body)
    if not isinstance(page, dict) or not isinstance(page.get("Items"), list):
        return
    customized_response_dict["Items"] = page.pop("Items")
    response_dict["body"] = encode_item(page).encode("utf-8")  # Count, LastEvaluatedKey, ...: botocore's
