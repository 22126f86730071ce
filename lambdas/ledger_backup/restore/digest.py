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
_RAW_ENCODER = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_base64_of_bytes
)
# In the raw JSON of a value: a set (only a set's tag is followed by `[` besides L's, since a map
# member's value is always an object), and an N whose text is not its one spelling (a member named
# N is followed by `{`; quotes inside strings are escaped, and a valid number has none).
_SET_TAG = re.compile(r'"(?:SS|NS|BS)":\[')
_ODD_NUMBER = re.compile(r'"N":"((?!(?!-0")-?(?:0|[1-9][0-9]*)(?:\.[0-9]*[1-9])?")[^"]*)"')


def _respelled(match: "re.Match[str]") -> str:
    return '"N":"' + canonical_number(match.group(1)) + '"'


def canonical_value_text(value: dict[str, Any]) -> str:
    """One attribute value's canonical text: equal values (as DynamoDB compares them), equal texts.

    For the plan's per-attribute digests, so only self-consistent: a string is its tag and text, a
    string set its sorted members; anything else the JSON of `canonical_bytes`, made from the
    value's own JSON (sorted keys, B as base64) with odd number spellings rewritten, and built
    member by member only when it holds a set.
    """
    (kind,) = value
    if kind == "S":
        return "S:" + str(value["S"])
    if kind == "SS":
        return "SS:" + _ENCODER.encode(sorted(value["SS"]))
    text = _RAW_ENCODER.encode(value)
    if _SET_TAG.search(text) is not None:
        return _ENCODER.encode(_canonical(value))
    respelled: str = _ODD_NUMBER.sub(_respelled, text)
    return respelled


def canonical_key_text(item: Item, key_names: Sequence[str]) -> str:
    """The item's key as DynamoDB JSON text, one spelling per key (B as base64, N canonical).

    The text is the key's identity in a plan and the `key` of a report line; it parses back into
    a key object (`{"book_id": {"S": "..."}}`) that a keys file or GetItem takes as it is.
    """
    return json.dumps(
        {name: _canonical(item[name]) for name in key_names},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
