"""A table's shape as a backup records it, and how a restore target is checked or created from it.

The fields keep DynamoDB's own names (KeySchema, AttributeDefinitions, ...) so that they
map one-to-one onto DescribeTable's output and CreateTable's input.
"""

from dataclasses import dataclass, field
from typing import Any

from ledger_backup.errors import SchemaMismatch

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
    def from_description(cls, table: dict[str, Any], ttl: dict[str, Any] | None) -> "TableSchema":
        """Build from DescribeTable's `Table` and DescribeTimeToLive's `TimeToLiveDescription`."""
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
