"""The key schema a caller gives for a source that records none (scan documents, DynamoDB exports).

Shape, as in the restore event: `[{"AttributeName": "book_id", "KeyType": "HASH", "AttributeType": "S"}]`,
with an optional second entry of KeyType RANGE. The CLI's `--hash-key book_id:S` builds the same.
"""

from collections.abc import Mapping, Sequence

from ledger_backup.errors import InvalidRequest
from ledger_backup.schema import TableSchema

KEY_TYPES = ("HASH", "RANGE")
ATTRIBUTE_TYPES = ("S", "N", "B")  # the only types a key attribute can have
EXAMPLE = '[{"AttributeName": "book_id", "KeyType": "HASH", "AttributeType": "S"}]'


def key_schema_from_json(entries: Sequence[Mapping[str, str]]) -> TableSchema:
    """Validate the entries and build an on-demand schema with those keys and no indexes."""
    if not 1 <= len(entries) <= 2:
        raise InvalidRequest(f"key_schema needs one HASH key and at most one RANGE key, e.g. {EXAMPLE}")
    keys: list[dict[str, str]] = []
    definitions: list[dict[str, str]] = []
    for entry in entries:
        name = entry.get("AttributeName")
        key_type = entry.get("KeyType")
        attribute_type = entry.get("AttributeType")
        if not isinstance(name, str) or not 1 <= len(name) <= 255:
            raise InvalidRequest(f"key_schema: AttributeName must be 1 to 255 characters, not {name!r}")
        if key_type not in KEY_TYPES:
            raise InvalidRequest(f"key_schema: KeyType of {name!r} must be HASH or RANGE, not {key_type!r}")
        if attribute_type not in ATTRIBUTE_TYPES:
            raise InvalidRequest(
                f"key_schema: AttributeType of {name!r} must be S, N or B, not {attribute_type!r}"
            )
        keys.append({"AttributeName": name, "KeyType": key_type})
        definitions.append({"AttributeName": name, "AttributeType": attribute_type})
    if sorted(k["KeyType"] for k in keys) not in (["HASH"], ["HASH", "RANGE"]):
        raise InvalidRequest(
            f"key_schema needs exactly one HASH key and at most one RANGE key, e.g. {EXAMPLE}"
        )
    if len({k["AttributeName"] for k in keys}) != len(keys):
        raise InvalidRequest("key_schema names the same attribute twice")
    keys.sort(key=lambda k: k["KeyType"] != "HASH")
    return TableSchema(key_schema=keys, attribute_definitions=definitions)


def key_from_text(text: str, key_type: str) -> dict[str, str]:
    """`book_id:S` -> one key_schema entry (the CLI's spelling)."""
    name, _, attribute_type = text.rpartition(":")
    if not name or attribute_type not in ATTRIBUTE_TYPES:
        raise InvalidRequest(f"a key is NAME:TYPE with TYPE one of S, N, B (e.g. book_id:S), not {text!r}")
    return {"AttributeName": name, "KeyType": key_type, "AttributeType": attribute_type}
