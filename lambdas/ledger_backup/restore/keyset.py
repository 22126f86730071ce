"""Which keys a restore has seen, to count the items whose key an earlier item already had.

A backup made by this tool holds each key once; a hand-edited scan document may not, and the
later copy is what ends up in the table. The restore answers how many such duplicates it met.
Each key is kept as an 8-byte BLAKE2b digest of its canonical bytes (a number key in one
spelling per value, as DynamoDB compares them), so the set costs about 70 bytes of memory per
distinct key in CPython (a 64-bit int and its set slot) and 8 bytes per key in the journal. Two
different keys share a digest with odds of about n**2 / 2**65: below one in 10**5 at 20 million keys.
"""

import hashlib
import re
import struct
from array import array
from typing import Any

from ledger_backup.codec import Item
from ledger_backup.restore.digest import canonical_number
from ledger_backup.schema import TableSchema

_PLAIN_INTEGER = re.compile(r"-?[1-9][0-9]{0,37}|0")  # its own canonical spelling: no Decimal needed
_TAGS = {"S": b"S", "N": b"N", "B": b"B"}


def _value_bytes(tag: str, inner: Any) -> bytes:
    if tag == "S":
        data: bytes = inner.encode("utf-8", "surrogatepass")
    elif tag == "N":
        data = (inner if _PLAIN_INTEGER.fullmatch(inner) else canonical_number(inner)).encode("utf-8")
    elif tag == "B":
        data = bytes(inner)
    else:  # not a key type: ItemRules refuses the item; digest it as something no valid key equals
        data = repr(inner).encode("utf-8", "surrogatepass")
    return _TAGS.get(tag, b"?") + struct.pack(">I", len(data)) + data


class KeyDigests:
    """The digests of the keys seen so far, and how many items repeated one."""

    def __init__(self, schema: TableSchema, *, journaled: bool = False) -> None:
        """`journaled`: also keep the digests added since the last `take_fresh` (8 bytes each)."""
        self.key_names = tuple(schema.key_names)
        self.duplicates = 0
        self._seen: set[int] = set()
        self._fresh: array[int] | None = array("Q") if journaled else None

    def digest(self, item: Item) -> int | None:
        """The digest of `item`'s key, or None when the item lacks a key attribute."""
        parts = []
        for name in self.key_names:
            value = item.get(name)
            if not value:
                return None  # no key: ItemRules refuses the item before this matters
            tag, inner = next(iter(value.items()))
            parts.append(_value_bytes(tag, inner))
        return int.from_bytes(hashlib.blake2b(b"".join(parts), digest_size=8).digest(), "big")

    def __contains__(self, item: object) -> bool:
        """Whether the key of `item` (an item or a key object) was added."""
        if not isinstance(item, dict):
            return False
        digest = self.digest(item)
        return digest is not None and digest in self._seen

    def has_digest(self, digest: int) -> bool:
        """Whether a key with this `digest` (of another KeyDigests of the same schema) was added."""
        return digest in self._seen

    def add(self, item: Item) -> None:
        """Count `item` as a duplicate when an earlier item had its key; call it once per item, in order."""
        digest = self.digest(item)
        if digest is None:
            return
        seen = self._seen
        if digest in seen:
            self.duplicates += 1
        else:
            seen.add(digest)
            if self._fresh is not None:
                self._fresh.append(digest)

    def __len__(self) -> int:
        return len(self._seen)

    def take_fresh(self) -> bytes:
        """The digests added since the last call, as bytes to store beside a checkpoint."""
        fresh, self._fresh = self._fresh or array("Q"), array("Q")
        if fresh.itemsize != 8:  # pragma: no cover - "Q" is 8 bytes on every platform Lambda runs
            raise RuntimeError("array('Q') is not 8 bytes here")
        return fresh.tobytes()

    def load(self, chunk: bytes) -> None:
        """Add digests stored by `take_fresh` (a resumed restore reloading what it had seen)."""
        digests = array("Q")
        digests.frombytes(chunk)
        self._seen.update(digests)
