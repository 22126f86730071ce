"""Mode "missing"'s writer: conditional puts counted as written or skipped, other errors raised."""

import threading
from typing import Any

import pytest
from botocore.exceptions import ClientError

from ledger_backup.restore.conditional_put import ConditionalPutWriter


class Table:
    """put_item as DynamoDB answers it for `attribute_not_exists(#key)`, with keys already present."""

    def __init__(self, present: set[str], failing: set[str] | None = None) -> None:
        self.items: dict[str, dict[str, Any]] = {key: {} for key in present}
        self.failing = failing or set()
        self.calls: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    def put_item(self, **kwargs: Any) -> dict[str, Any]:
        key = kwargs["Item"]["pk"]["S"]
        with self._lock:
            self.calls.append(kwargs)
            if key in self.failing:
                raise ClientError({"Error": {"Code": "ValidationException", "Message": "bad"}}, "PutItem")
            if key in self.items:
                raise ClientError(
                    {"Error": {"Code": "ConditionalCheckFailedException", "Message": "present"}}, "PutItem"
                )
            self.items[key] = kwargs["Item"]
        return {}


def item(key: str) -> dict[str, Any]:
    return {"pk": {"S": key}, "v": {"N": "1"}}


def test_present_keys_are_skipped_and_the_rest_written() -> None:
    table = Table(present={"k1", "k3"})
    with ConditionalPutWriter(table, "t", "pk", threads=3) as writer:  # type: ignore[arg-type]
        for n in range(6):
            writer.put(item(f"k{n}"))
    assert (writer.items_written, writer.items_skipped) == (4, 2)
    assert set(table.items) == {f"k{n}" for n in range(6)}
    assert table.items["k1"] == {}  # the table's item won
    assert {call["ConditionExpression"] for call in table.calls} == {"attribute_not_exists(#key)"}
    assert {call["ExpressionAttributeNames"]["#key"] for call in table.calls} == {"pk"}


def test_another_error_is_raised_once_the_puts_in_flight_are_answered() -> None:
    table = Table(present=set(), failing={"k2"})
    writer = ConditionalPutWriter(table, "t", "pk", threads=2)  # type: ignore[arg-type]

    def put_five() -> None:
        with writer:
            for n in range(5):
                writer.put(item(f"k{n}"))
            writer.flush()

    with pytest.raises(ClientError, match="ValidationException"):
        put_five()


def test_flush_waits_for_every_put_so_a_checkpoint_counts_them_all() -> None:
    table = Table(present={"k0"})
    with ConditionalPutWriter(table, "t", "pk", threads=4) as writer:  # type: ignore[arg-type]
        for n in range(40):
            writer.put(item(f"k{n}"))
        writer.flush()
        assert writer.items_written + writer.items_skipped == 40
