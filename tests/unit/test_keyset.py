"""Duplicate keys are counted by value, as DynamoDB compares keys, and survive the journal."""

from ledger_backup.restore.keyset import KeyDigests
from ledger_backup.schema import TableSchema

SCHEMA = TableSchema(
    key_schema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
    attribute_definitions=[
        {"AttributeName": "pk", "AttributeType": "S"},
        {"AttributeName": "sk", "AttributeType": "N"},
    ],
)


def item(pk: str, sk: str) -> dict[str, dict[str, str]]:
    return {"pk": {"S": pk}, "sk": {"N": sk}, "v": {"S": "x"}}


def test_a_repeated_key_is_counted_whatever_the_number_spelling() -> None:
    keys = KeyDigests(SCHEMA)
    for pk, sk in [("a", "1"), ("a", "2"), ("b", "1"), ("a", "1.0"), ("a", "10E-1"), ("b", "2")]:
        keys.add(item(pk, sk))
    assert (keys.duplicates, len(keys)) == (2, 4)


def test_the_seen_keys_survive_a_checkpoint() -> None:
    first = KeyDigests(SCHEMA, journaled=True)
    first.add(item("a", "1"))
    first.add(item("b", "1"))
    chunk = first.take_fresh()
    assert len(chunk) == 16, "8 bytes per key in the journal"
    assert first.take_fresh() == b""
    resumed = KeyDigests(SCHEMA)
    resumed.load(chunk)
    resumed.add(item("b", "1"))
    resumed.add(item("c", "1"))
    assert (resumed.duplicates, len(resumed)) == (1, 3)
