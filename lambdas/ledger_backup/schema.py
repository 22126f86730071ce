"""A table's shape as a backup records it, and how a restore target is checked or created from it.

The fields keep DynamoDB's own names (KeySchema, AttributeDefinitions, ...) so that they
map one-to-one onto DescribeTable's output and CreateTable's input.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ledger_backup.errors import InvalidRequest, SchemaMismatch

KeySchema = list[dict[str, str]]


@dataclass(frozen=True)
class TableSchema:
    """What is needed to recreate a table's keys, indexes and TTL; capacity is not copied (on-demand)."""

    key_schema: KeySchema
    attribute_definitions: list[dict[str, str]]
    billing_mode: str = "PAY_PER_REQUEST"
    global_secondary_indexes: list[dict[str, Any]] = field(default_factory=list)
    local_secondary_indexes: list[dict[str, Any]] = field(default_factory=list)
    ttl_attribute: str | None = None

    @property
    def key_names(self) -> list[str]:
        """Key attribute names, hash key first."""
        ordered = sorted(self.key_schema, key=lambda k: k["KeyType"] != "HASH")
        return [k["AttributeName"] for k in ordered]

    def key_signature(self) -> list[tuple[str, str, str]]:
        """(name, key type, attribute type) of each key attribute: what must match between tables."""
        types = {d["AttributeName"]: d["AttributeType"] for d in self.attribute_definitions}
        ordered = sorted(self.key_schema, key=lambda k: k["KeyType"] != "HASH")
        return [(k["AttributeName"], k["KeyType"], types.get(k["AttributeName"], "?")) for k in ordered]

    def describe_keys(self) -> str:
        """Human-readable key schema, e.g. `book_id (S, HASH)`."""
        return ", ".join(
            f"{name} ({attr_type}, {key_type})" for name, key_type, attr_type in self.key_signature()
        )

    @classmethod
    def from_description(cls, table: Mapping[str, Any], ttl: Mapping[str, Any] | None) -> "TableSchema":
        """Build from DescribeTable's `Table` and DescribeTimeToLive's `TimeToLiveDescription`.

        Mappings, so that boto3's typed descriptions and plain dicts both fit.
        """
        billing = table.get("BillingModeSummary", {}).get("BillingMode", "PROVISIONED")
        ttl_attribute = None
        if ttl and ttl.get("TimeToLiveStatus") in ("ENABLED", "ENABLING"):
            ttl_attribute = ttl.get("AttributeName")
        return cls(
            key_schema=[dict(k) for k in table["KeySchema"]],
            attribute_definitions=[dict(d) for d in table["AttributeDefinitions"]],
            billing_mode=billing,
            global_secondary_indexes=[_index_shape(i) for i in table.get("GlobalSecondaryIndexes", [])],
            local_secondary_indexes=[_index_shape(i) for i in table.get("LocalSecondaryIndexes", [])],
            ttl_attribute=ttl_attribute,
        )

    def to_json(self) -> dict[str, Any]:
        """The manifest's `schema` object."""
        return {
            "KeySchema": self.key_schema,
            "AttributeDefinitions": self.attribute_definitions,
            "BillingMode": self.billing_mode,
            "GlobalSecondaryIndexes": self.global_secondary_indexes,
            "LocalSecondaryIndexes": self.local_secondary_indexes,
            "TimeToLiveAttribute": self.ttl_attribute,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "TableSchema":
        """Read the manifest's `schema` object (KeyError/TypeError on a malformed one)."""
        key_schema = data["KeySchema"]
        if not isinstance(key_schema, list) or not key_schema:
            raise TypeError("KeySchema must be a non-empty list")
        return cls(
            key_schema=key_schema,
            attribute_definitions=data["AttributeDefinitions"],
            billing_mode=data.get("BillingMode", "PAY_PER_REQUEST"),
            global_secondary_indexes=data.get("GlobalSecondaryIndexes", []),
            local_secondary_indexes=data.get("LocalSecondaryIndexes", []),
            ttl_attribute=data.get("TimeToLiveAttribute"),
        )

    def create_table_request(self, table_name: str) -> dict[str, Any]:
        """CreateTable parameters for an on-demand copy with the same keys and indexes."""
        request: dict[str, Any] = {
            "TableName": table_name,
            "KeySchema": self.key_schema,
            "AttributeDefinitions": self.attribute_definitions,
            "BillingMode": "PAY_PER_REQUEST",
        }
        if self.global_secondary_indexes:
            request["GlobalSecondaryIndexes"] = self.global_secondary_indexes
        if self.local_secondary_indexes:
            request["LocalSecondaryIndexes"] = self.local_secondary_indexes
        return request

    def check_compatible(self, target_name: str, target: "TableSchema") -> None:
        """Refuse a target whose keys differ: its items would land under other keys or be rejected."""
        if self.key_signature() != target.key_signature():
            raise SchemaMismatch(
                f"target table {target_name!r} has key schema {target.describe_keys()} "
                f"but the backup's is {self.describe_keys()}"
            )


def _index_shape(index: dict[str, Any]) -> dict[str, Any]:
    """Keep what CreateTable accepts for an index; drop status, size and provisioned capacity."""
    return {
        "IndexName": index["IndexName"],
        "KeySchema": index["KeySchema"],
        "Projection": index["Projection"],
    }


# The key schema a caller gives for a source that records none (scan documents, DynamoDB exports):
# `[{"AttributeName": "book_id", "KeyType": "HASH", "AttributeType": "S"}]`, optionally a RANGE entry;
# the CLI's `--hash-key book_id:S` builds the same.
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
