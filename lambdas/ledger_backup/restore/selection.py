"""The keys an incident restore is limited to: given in the request, or as a JSON-lines file.

A file holds one key per line, either the key object itself (`{"book_id": {"S": "..."}}`) or
a line of a plan's report (`{"change": "missing", "key": {...}, ...}`), so a plan can be fed
back as it is. Every key is checked against the table's key schema when it is read, before
anything is written: a key with a missing, extra or wrongly typed attribute is refused with
its line number.
"""

import copy
import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from ledger_backup.codec import Item, item_from_document
from ledger_backup.errors import InvalidRequest
from ledger_backup.restore.digest import canonical_key_text
from ledger_backup.restore.keyset import KeyDigests
from ledger_backup.schema import TableSchema

MAX_REQUEST_KEYS = 1000  # keys given in the event itself; more go in a keys file
MAX_FILE_KEYS = 10_000_000  # a keys file's bound: the selection is held in memory (~70 bytes per key)


@dataclass(frozen=True)
class KeySelection:
    """Chosen keys: membership by key digest, and the keys themselves (canonical DynamoDB JSON text)."""

    digests: KeyDigests
    keys: tuple[Item, ...]
    where: str  # "the request's keys" or the keys file's location, for messages

    def __contains__(self, item: object) -> bool:
        return item in self.digests

    def __len__(self) -> int:
        return len(self.keys)

    def key_texts(self) -> Iterator[tuple[str, Item]]:
        names = self.digests.key_names
        for key in self.keys:
            yield canonical_key_text(key, names), key


def _check_key(document: Any, schema: TableSchema, where: str) -> Item:
    if not isinstance(document, dict):
        raise InvalidRequest(f"{where}: a key must be a JSON object such as {_example(schema)}")
    if "key" in document and "change" in document:  # a line of a plan's report
        document = document["key"]
        if not isinstance(document, dict):
            raise InvalidRequest(f"{where}: the report line's key must be a JSON object")
    try:
        key = item_from_document(copy.deepcopy(document))  # it decodes B values in place
    except ValueError as exc:
        raise InvalidRequest(f"{where}: {exc}") from None
    wanted = {name: attr_type for name, _, attr_type in schema.key_signature()}
    if set(key) != set(wanted):
        raise InvalidRequest(
            f"{where}: a key needs exactly the attributes {sorted(wanted)} ({schema.describe_keys()}), "
            f"this one has {sorted(key)}"
        )
    for name, attr_type in wanted.items():
        tag = next(iter(key[name]))
        inner = key[name][tag]
        if tag != attr_type or not isinstance(inner, str | bytes) or not inner:
            raise InvalidRequest(f"{where}: key attribute {name} must be a non-empty {attr_type} value")
    return key


def _example(schema: TableSchema) -> str:
    name, _, attr_type = schema.key_signature()[0]
    return json.dumps({name: {attr_type: "..."}})


def selection_from_keys(documents: Sequence[Any], schema: TableSchema) -> KeySelection:
    """The request's `keys` (at most MAX_REQUEST_KEYS key objects in DynamoDB JSON)."""
    if len(documents) > MAX_REQUEST_KEYS:
        raise InvalidRequest(
            f"keys: at most {MAX_REQUEST_KEYS:,} keys in a request ({len(documents):,} given); "
            "put them in a JSON-lines file under the function's prefix and give keys_s3_key"
        )
    keys = [_check_key(document, schema, f"keys[{index}]") for index, document in enumerate(documents)]
    return _selection(keys, schema, "the request's keys")


def selection_from_lines(lines: Iterable[bytes], schema: TableSchema, where: str) -> KeySelection:
    """A keys file: one key (or one plan report line) per line; blank lines are ignored."""
    keys: list[Item] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        if len(keys) >= MAX_FILE_KEYS:
            raise InvalidRequest(f"{where}: more than {MAX_FILE_KEYS:,} keys; split the restore in several")
        try:
            document = json.loads(line)
        except ValueError as exc:
            raise InvalidRequest(f"{where}, line {number}: not JSON ({exc})") from None
        keys.append(_check_key(document, schema, f"{where}, line {number}"))
    if not keys:
        raise InvalidRequest(f"{where} holds no keys")
    return _selection(keys, schema, where)


def _selection(keys: list[Item], schema: TableSchema, where: str) -> KeySelection:
    digests = KeyDigests(schema)
    unique = []
    for key in keys:
        if key not in digests:
            digests.add(key)
            unique.append(key)
    return KeySelection(digests, tuple(unique), where)
