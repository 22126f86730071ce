"""An order-independent digest of a set of items, to prove a table holds exactly a backup's items.

Each item is hashed (SHA-256) in a canonical encoding, and the hashes are added modulo 2**256,
so the digest does not depend on the order in which a backup or a Scan returns the items.
Canonical means: attribute names sorted at every depth; set members (SS, NS, BS) sorted, as
sets have no order; numbers in one spelling per value (DynamoDB answers "1.5" for a stored
"1.50", so the spelling is not part of the value).
"""

import base64
import hashlib
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Context, Decimal, InvalidOperation
from typing import Any

import orjson

from ledger_backup.codec import Item

_MODULUS = 2**256
_NUMBERS = Context(prec=60)  # DynamoDB keeps 38 significant digits: normalising never rounds


# Already the one spelling: no leading zeros, no trailing fraction zeros, no exponent, not "-0".
_CANONICAL_SPELLING = re.compile(r"(?!-0\Z)-?(?:0|[1-9][0-9]*)(?:\.[0-9]*[1-9])?")


def canonical_number(text: str) -> str:
    """One spelling per numeric value: "1.50", "1.5" and "15E-1" all give "1.5"."""
    if _CANONICAL_SPELLING.fullmatch(text):
        return text
    try:
        value = _NUMBERS.normalize(Decimal(text))
    except InvalidOperation:
        return text  # not a number DynamoDB would accept; compare it as written
    if value.is_zero():
        return "0"
    return format(value, "f") if -40 < value.adjusted() < 40 else str(value)


def _base64(value: bytes) -> str:
    return base64.b64encode(value).decode("ascii")


def _base64_of_bytes(value: object) -> str:
    if isinstance(value, bytes | bytearray):
        return _base64(bytes(value))
    raise TypeError(f"{type(value).__name__} is not a DynamoDB value")


_CANONICAL: dict[str, Callable[[Any], Any]] = {
    "N": canonical_number,
    "B": _base64,
    "SS": sorted,
    "NS": lambda numbers: sorted(canonical_number(n) for n in numbers),
    "BS": lambda blobs: [_base64(b) for b in sorted(blobs)],
    "M": lambda members: {name: _canonical(member) for name, member in members.items()},
    "L": lambda members: [_canonical(member) for member in members],
}


def _canonical(value: dict[str, Any]) -> dict[str, Any]:
    (kind,) = value
    if kind == "S":
        return value
    canonical = _CANONICAL.get(kind)
    return {kind: canonical(value[kind])} if canonical is not None else value  # BOOL, NULL: as they are


def canonical_bytes(item: Item) -> bytes:
    """The item's canonical encoding (JSON with sorted keys), the input of its hash."""
    document = {name: _canonical(value) for name, value in item.items()}
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def item_hash(item: Item) -> int:
    return int.from_bytes(hashlib.sha256(canonical_bytes(item)).digest(), "big")


@dataclass
class ContentDigest:
    """Add items in any order; equal multisets of items give equal (count, digest)."""

    items: int = 0
    _sum: int = field(default=0, repr=False)

    def add(self, item: Item) -> None:
        self.items += 1
        self._sum = (self._sum + item_hash(item)) % _MODULUS

    @property
    def hexdigest(self) -> str:
        return f"{self._sum:064x}"


_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)
_SORTED = orjson.OPT_SORT_KEYS
# In a value's compact JSON: a set's tag (a map member's value is always an object, and L's tag
# ends in L), and an N whose text is not its one spelling (a member named N is followed by `{`;
# quotes inside strings are escaped, and a valid number has none).
_SET_TAG = b'S":['
_ODD_NUMBER = re.compile(rb'"N":"(?!(?!-0")-?(?:0|[1-9][0-9]*)(?:\.[0-9]*[1-9])?")')


def canonical_value_bytes(value: dict[str, Any]) -> bytes:
    """One attribute value's canonical text, UTF-8: equal values (as DynamoDB compares them), equal texts.

    For the plan's digests, so only self-consistent: a string is its tag and text; anything else
    the compact JSON of `canonical_bytes` (sorted keys, B as base64). That JSON is orjson's of the
    value itself when it holds no set and every number is spelled its one way (what DynamoDB
    answers), and of the value made canonical member by member otherwise; one encoder for both,
    so both give one text. A value orjson cannot encode (a lone surrogate) takes the json module's.
    """
    (kind,) = value
    if kind == "S":
        return b"S:" + str(value["S"]).encode("utf-8", "surrogatepass")
    try:
        text = orjson.dumps(value, default=_base64_of_bytes, option=_SORTED)
        if _SET_TAG in text or _ODD_NUMBER.search(text) is not None:
            text = orjson.dumps(_canonical(value), option=_SORTED)
    except orjson.JSONEncodeError:
        return _ENCODER.encode(_canonical(value)).encode("utf-8", "surrogatepass")
    return text


def canonical_key_text(item: Item, key_names: Sequence[str]) -> str:
    """The item's key as DynamoDB JSON text, one spelling per key (B as base64, N canonical).

    The text is the key's identity in a plan and the `key` of a report line; it parses back into
    a key object (`{"book_id": {"S": "..."}}`) that a keys file or GetItem takes as it is.
    """
    key = {name: _canonical(item[name]) for name in key_names}
    try:
        return orjson.dumps(key, option=_SORTED).decode("utf-8")
    except orjson.JSONEncodeError:  # a lone surrogate: the json module's text, which keeps it
        return _ENCODER.encode(key)
