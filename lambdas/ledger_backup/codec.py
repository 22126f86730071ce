"""DynamoDB JSON lines <-> the items botocore's low-level client speaks.

Items are never converted to Python values (no Decimal, no TypeDeserializer):
the low-level wire shape ({"S": ...}, {"N": "..."}) is copied as is, so numbers
keep all 38 digits and every type round-trips exactly.

The one difference between a file and the client is binary: botocore hands B/BS
out as `bytes` and base64-encodes whatever it is given, while a JSON file holds
base64 text. Writing encodes bytes through json's `default` hook (only bytes ever
reach it, and only B/BS values are bytes); reading decodes B/BS at any depth.
"""

import base64
import binascii
import json
from typing import Any

Item = dict[str, Any]

_COMPACT = (",", ":")


def _base64_text(value: object) -> str:
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(value).decode("ascii")
    raise TypeError(f"not a DynamoDB attribute value: {type(value).__name__}")


def encode_line(item: Item) -> str:
    """One backup line, `{"Item": {...}}`: the line format of DynamoDB's own S3 export."""
    return json.dumps({"Item": item}, separators=_COMPACT, ensure_ascii=False, default=_base64_text)


def encode_item(item: Item) -> str:
    """The item alone as DynamoDB JSON text (B/BS as base64), e.g. for a scan-style document."""
    return json.dumps(item, separators=_COMPACT, ensure_ascii=False, default=_base64_text)


def _decode_binary(value: str) -> bytes:
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError(f"invalid base64 in a binary attribute: {value[:40]!r}") from exc


def _binary_hook(obj: dict[str, Any]) -> dict[str, Any]:
    # A type descriptor holds B/BS as text or a list of text; an attribute *named* "B" or "BS"
    # maps to a dict (its own type descriptor), so it is left alone.
    if len(obj) == 1:
        if isinstance(obj.get("B"), str):
            return {"B": _decode_binary(obj["B"])}
        bs = obj.get("BS")
        if isinstance(bs, list) and all(isinstance(v, str) for v in bs):
            return {"BS": [_decode_binary(v) for v in bs]}
    return obj


def loads_items_json(text: str | bytes) -> Any:
    """Parse DynamoDB JSON text, turning base64 B/BS values into bytes at every nesting level."""
    marker = b'"B' if isinstance(text, bytes | bytearray) else '"B'
    if marker not in text:  # type: ignore[operator]
        # Fast path: no "B"/"BS" key anywhere, so there is nothing to decode.
        return json.loads(text)
    return json.loads(text, object_hook=_binary_hook)


def decode_line(line: str | bytes) -> Item:
    """Parse one `{"Item": {...}}` line into a low-level client item.

    Raises ValueError when the line is not JSON or not of that shape.
    """
    document = loads_items_json(line)
    if not isinstance(document, dict) or not isinstance(document.get("Item"), dict):
        raise ValueError('line is not of the form {"Item": {...}}')
    item: Item = document["Item"]
    return item
