"""A restored table made to differ from its backup, as after an incident: some items gone, some changed,
some keys the backup never had. What a plan has to find and a replace has to undo.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bench.workloads import HASH_KEY

EVERY = 100  # one item in this many is deleted, one changed, and one extra key added per this many
CHANGED_STATUS = "bench-changed"


@dataclass(frozen=True)
class Differences:
    """The write requests that make a table holding exactly `items` differ from them."""

    deleted: list[dict[str, Any]]  # keys of backup items taken out of the table
    changed: list[dict[str, Any]]  # backup items put back with another status
    extra: list[dict[str, Any]]  # items under keys the backup lacks

    @property
    def count(self) -> int:
        """Each of the three kinds holds this many."""
        return len(self.deleted)

    def requests(self) -> list[dict[str, Any]]:
        """DeleteRequests and PutRequests that apply every difference (no key twice)."""
        return (
            [{"DeleteRequest": {"Key": key}} for key in self.deleted]
            + [{"PutRequest": {"Item": item}} for item in self.changed]
            + [{"PutRequest": {"Item": item}} for item in self.extra]
        )

    def extra_puts(self) -> list[dict[str, Any]]:
        return [{"PutRequest": {"Item": item}} for item in self.extra]

    def extra_deletes(self) -> list[dict[str, Any]]:
        return [{"DeleteRequest": {"Key": {HASH_KEY: item[HASH_KEY]}}} for item in self.extra]


def differences(items: Sequence[dict[str, Any]]) -> Differences:
    """Of every EVERY items: the first deleted, the second changed, the third copied under a new key."""
    deleted = [{HASH_KEY: item[HASH_KEY]} for item in items[0::EVERY]]
    changed = [{**item, "status": {"S": CHANGED_STATUS}} for item in items[1::EVERY]]
    extra = [{**item, HASH_KEY: {"S": item[HASH_KEY]["S"] + "--bench-extra"}} for item in items[2::EVERY]]
    count = min(len(deleted), len(changed), len(extra))
    return Differences(deleted[:count], changed[:count], extra[:count])


def batches(requests: Sequence[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """BatchWriteItem request lists of 25."""
    return [list(requests[i : i + 25]) for i in range(0, len(requests), 25)]
