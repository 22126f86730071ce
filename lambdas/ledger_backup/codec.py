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
from collections.abc import Callable
from typing import Any

import orjson

Item = dict[str, Any]

_COMPACT = (",", ":")


def _base64_text(value: object) -> str:
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(value).decode("ascii")
    raise TypeError(f"not a DynamoDB attribute value: {type(value).__name__}")


# One shared encoder: items are trees from JSON or botocore, never cyclic, so the cycle check is skipped.
_ENCODER = json.JSONEncoder(
    separators=_COMPACT, ensure_ascii=False, default=_base64_text, check_circular=False
)


def encode_line(item: Item) -> str:
    """One backup line, `{"Item": {...}}`: the line format of DynamoDB's own S3 export."""
    return _ENCODER.encode({"Item": item})


def encode_put_request(item: Item) -> bytes:
    """A BatchWriteItem PutRequest for the item, as JSON text."""
    return encode_write_request({"PutRequest": {"Item": item}})


def encode_write_request(request: dict[str, Any]) -> bytes:
    """A BatchWriteItem write request (put or delete) as JSON text, e.g. one left unprocessed."""
    return _ENCODER.encode(request).encode("utf-8")


def put_request_from_line(line: bytes) -> bytes:
    """The PutRequest a stored `{"Item": ...}` line already is (see `decode_stored_line`), as JSON text."""
    return b'{"PutRequest":' + line.rstrip() + b"}"


def encode_item(item: Item) -> str:
    """The item alone as DynamoDB JSON text (B/BS as base64), e.g. for a scan-style document."""
    return _ENCODER.encode(item)


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


_TOO_DEEP = "nesting too deep for DynamoDB JSON (DynamoDB allows 32 levels)"


def loads_items_json(text: str | bytes) -> Any:
    """Parse DynamoDB JSON text, turning base64 B/BS values into bytes at every nesting level.

    Raises ValueError when the text is not JSON, including JSON nested too deep to parse.
    Text without binary values goes to orjson, the costliest step of a restore made cheaper
    (see `fast_loads`); the rest to the json module, which has the object hook B/BS need.
    """
    if not _might_hold_binary(text):
        return fast_loads(text)
    return _json_loads(text, _binary_hook)


def fast_loads(text: str | bytes) -> Any:
    """json.loads's result, from orjson when it takes the text and from json.loads when it refuses it.

    orjson refuses what json accepts beyond RFC 8259 (NaN, lone surrogates) and what json
    refuses, so for every such text the json module decides, with its messages; both keep the
    last of two equal member names. The one difference: an integer beyond 64 bits comes back
    as a float. DynamoDB JSON holds numbers only as strings, so a bare number is refused by the
    item checks either way (the message then shows the float).
    """
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return _json_loads(text, None)


def _might_hold_binary(text: str | bytes) -> bool:
    """Whether a B/BS value may be in the text: a "B"/"BS" key, literal or spelled with \\u escapes.

    The backslash is looked for first: one byte, found by memchr, where a three-byte needle
    that ends in a quote stops at every quote of the text.
    """
    if isinstance(text, bytes | bytearray):
        return (b"\\" in text and b"\\u" in text) or b'"B"' in text or b'"BS"' in text
    return ("\\" in text and "\\u" in text) or '"B"' in text or '"BS"' in text


def _json_loads(text: str | bytes, object_hook: Callable[[dict[str, Any]], Any] | None) -> Any:
    try:
        return json.loads(text, object_hook=object_hook)
    except RecursionError:
        # json's parser recurses per nesting level; DynamoDB allows 32, so such text is no item.
        raise ValueError(_TOO_DEEP) from None


def decode_line(line: str | bytes) -> Item:
    """Parse one `{"Item": {...}}` line into a low-level client item.

    Raises ValueError when the line is not JSON or not of that shape.
    """
    item: Item = _line_document(line)["Item"]
    return item


def _line_document(line: str | bytes) -> dict[str, Any]:
    document = loads_items_json(line)
    if not isinstance(document, dict) or not isinstance(document.get("Item"), dict):
        raise ValueError('line is not of the form {"Item": {...}}')
    return document


def decode_stored_line(line: bytes) -> tuple[Item, bytes | None]:
    """Parse one stored `{"Item": {...}}` line; also return the line when it is exactly that.

    A backup line *is* the JSON of a BatchWriteItem PutRequest, so a restore can send it as
    it is (`put_request_from_line`) instead of encoding the item again (`make bench`:
    encoding was the largest share of restore CPU). The line is given back only when it
    parsed whole as one JSON object whose one member is "Item", so the spliced text cannot
    change the request around it. Raises ValueError like `decode_line`.
    """
    # Strict UTF-8, no encoding guessed for spliced bytes: orjson reads nothing else, and what
    # it refuses is decoded as UTF-8 before the json module sees it.
    document = _stored_document(line) if not _might_hold_binary(line) else None
    if document is None:
        document = _line_document(line.decode("utf-8"))
    item: Item = document["Item"]
    return item, line if len(document) == 1 else None


def _stored_document(line: bytes) -> dict[str, Any] | None:
    """The line's document when orjson reads it and it has the line shape; else None (look again)."""
    try:
        document = orjson.loads(line)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(document, dict) or not isinstance(document.get("Item"), dict):
        raise ValueError('line is not of the form {"Item": {...}}')
    return document


class _BadValue(ValueError):
    """A value that is not DynamoDB JSON; `path` is filled in on the way back up."""

    def __init__(self, problem: str) -> None:
        super().__init__(problem)
        self.problem = problem
        self.path: list[str] = []


def _string(kind: str, inner: Any) -> Any:
    if not isinstance(inner, str):
        raise _BadValue(f"{kind} must be a string, not {type(inner).__name__}")
    return inner


def _strings(kind: str, inner: Any) -> Any:
    if not isinstance(inner, list) or not all(isinstance(v, str) for v in inner):
        raise _BadValue(f"{kind} must be an array of strings")
    return inner


def _binary(kind: str, inner: Any) -> bytes:
    try:
        return _decode_binary(_string(kind, inner))
    except ValueError as exc:
        raise _BadValue(str(exc)) from None


def _binaries(kind: str, inner: Any) -> list[bytes]:
    return [_binary(kind, v) for v in _strings(kind, inner)]


def _boolean(kind: str, inner: Any) -> Any:
    if type(inner) is not bool:
        raise _BadValue("BOOL must be true or false")
    return inner


def _null(kind: str, inner: Any) -> Any:
    if inner is not True:
        raise _BadValue("NULL must be true")
    return inner


def _map(kind: str, inner: Any) -> Any:
    if not isinstance(inner, dict):
        raise _BadValue("M must be an object")
    for name, member in inner.items():
        try:
            inner[name] = _checked_value(member)
        except _BadValue as exc:
            exc.path.append(name)
            raise
    return inner


def _list(kind: str, inner: Any) -> Any:
    if not isinstance(inner, list):
        raise _BadValue("L must be an array")
    for index, member in enumerate(inner):
        try:
            inner[index] = _checked_value(member)
        except _BadValue as exc:
            exc.path.append(f"[{index}]")
            raise
    return inner


_CHECKS: dict[str, Callable[[str, Any], Any]] = {
    "S": _string,
    "N": _string,
    "B": _binary,
    "BOOL": _boolean,
    "NULL": _null,
    "M": _map,
    "L": _list,
    "SS": _strings,
    "NS": _strings,
    "BS": _binaries,
}


def _checked_value(value: Any) -> Any:
    """One attribute value, checked, with B/BS decoded in place (the input is a fresh parse)."""
    if not isinstance(value, dict) or len(value) != 1:
        raise _BadValue('not a DynamoDB attribute value (expected one type, such as {"S": "text"})')
    kind, inner = next(iter(value.items()))
    check = _CHECKS.get(kind)
    if check is None:
        raise _BadValue(f"unknown DynamoDB type {kind!r}")
    value[kind] = check(kind, inner)
    return value


def item_from_document(document: Any) -> Item:
    """Check one item that a generic JSON parser (ijson, json) produced and make it a client item.

    Such parsers leave B/BS as base64 text at every depth; this decodes them, in place, and
    refuses anything that is not DynamoDB JSON (plain values, numbers as JSON numbers, unknown
    types), so a wrong file is caught while verifying instead of by DynamoDB halfway through.
    Raises ValueError naming the attribute, e.g. `attribute steps.toc_parse: N must be a string`.
    """
    if not isinstance(document, dict):
        raise ValueError(f"not a DynamoDB item (a JSON object), but {type(document).__name__}")
    for name, value in document.items():
        try:
            document[name] = _checked_value(value)
        except _BadValue as exc:
            path = name + "".join(p if p.startswith("[") else f".{p}" for p in reversed(exc.path))
            raise ValueError(f"attribute {path}: {exc.problem}") from None
        except RecursionError:
            raise ValueError(f"attribute {name}: {_TOO_DEEP}") from None
    return document


def encode_item_indented(item: Item) -> str:
    """The item as `aws dynamodb scan --output json` prints it: 4-space indents, B/BS as base64."""
    return json.dumps(item, indent=4, ensure_ascii=False, default=_base64_text)
