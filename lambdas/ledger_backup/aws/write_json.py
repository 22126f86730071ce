"""BatchWriteItem of write requests that are JSON text already, such as stored backup lines.

A backup line is a PutRequest as DynamoDB's JSON has it, so a restore sends it as it was
stored instead of having botocore's serializer walk every attribute value again. `send`
gives the finished body to the call as a private parameter; two handlers, registered once
when the sender is built, move it into that call's context (provide-client-params) and
send it in place of the body botocore serialized for a one-request placeholder
(before-call). A call without that parameter is left alone, so the client keeps working
as it did for everything else. botocore still validates the table name, signs, retries
and parses the response.
"""

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import BatchWriteItemOutputTypeDef

_BODY_PARAMETER = "LedgerBackupRequestBody"  # taken out of the call's parameters before botocore sees them
_BODY = "ledger_backup.write_json.body"  # request-context key; also the handlers' id prefix
_PLACEHOLDER: list[dict[str, Any]] = [{"PutRequest": {"Item": {}}}]


class TextBatchSender:
    """`send(table_name, write_requests)`: one BatchWriteItem of write requests given as JSON text."""

    def __init__(self, client: "DynamoDBClient") -> None:
        """Any client will do; registering the handlers on it again (same ids) changes nothing."""
        self._client = client
        events = client.meta.events
        events.register(
            "provide-client-params.dynamodb.BatchWriteItem", _take_body, unique_id=_BODY + ".take"
        )
        events.register("before-call.dynamodb.BatchWriteItem", _send_body, unique_id=_BODY + ".send")

    def send(self, table_name: str, write_requests: Sequence[bytes]) -> "BatchWriteItemOutputTypeDef":
        """Write requests such as `{"PutRequest":{"Item":...}}`, each one JSON object, sent as they are.

        The caller vouches for the text (each entry parsed and checked before it got here),
        so that the request is exactly the list given. The response is botocore's.
        """
        body = b"".join(
            (b'{"RequestItems":{', json.dumps(table_name).encode(), b":[", b",".join(write_requests), b"]}}")
        )
        params: dict[str, Any] = {"RequestItems": {table_name: _PLACEHOLDER}, _BODY_PARAMETER: body}
        return self._client.batch_write_item(**params)


def _take_body(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
    """provide-client-params: move the body `send` prepared from the call's parameters to its context."""
    body = params.pop(_BODY_PARAMETER, None)
    if body is not None:
        context[_BODY] = body


def _send_body(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
    """before-call: send the prepared body instead of the placeholder's."""
    body = context.get(_BODY)
    if body is not None:
        params["body"] = body
