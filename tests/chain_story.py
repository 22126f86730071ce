"""A full DynamoDB export and two incremental exports after it, in AWS's layout, and the table they describe.

The story: sixty books in the full export (at T0: more than one batch, so a restore can pause). The
first incremental (T0 to T1) puts b100, updates b1 dropping its `pages`, deletes b2. The second (T1 to
T2) puts b101, updates b5 (drops `pages`, adds `note`), deletes b100 and b4; MID (inside the second)
falls after its put and update, before its deletes.
"""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from devtools.aws_incremental import Record, write_aws_incremental
from devtools.legacy_formats import write_aws_export
from ledger_backup.storage.stores import BackupStore

T0 = datetime(2026, 2, 14, 7, 28, 34, 28000, tzinfo=UTC)  # write_aws_export's exportTime
T1 = T0 + timedelta(hours=1)
T2 = T0 + timedelta(hours=2)
MID = T1 + timedelta(minutes=30)


def book(number: int, **attributes: dict[str, Any]) -> dict[str, Any]:
    return {"book_id": {"S": f"b{number}"}, **attributes}


def full_book(number: int) -> dict[str, Any]:
    return book(number, title={"S": f"t{number}"}, pages={"N": str(number)})


FULL_ITEMS = [full_book(n) for n in range(60)]


def _key(number: int) -> dict[str, Any]:
    return {"book_id": {"S": f"b{number}"}}


FIRST = [
    Record(T0 + timedelta(minutes=10), _key(100), None, book(100, title={"S": "new"}, pages={"N": "100"})),
    Record(T0 + timedelta(minutes=20), _key(1), full_book(1), book(1, title={"S": "t1 revised"})),
    Record(T0 + timedelta(minutes=30), _key(2), full_book(2), None),
]
SECOND = [
    Record(T1 + timedelta(minutes=10), _key(101), None, book(101, title={"S": "eleven"})),
    Record(
        T1 + timedelta(minutes=20), _key(5), full_book(5), book(5, title={"S": "t5"}, note={"S": "moved"})
    ),
    Record(T1 + timedelta(minutes=50), _key(100), FIRST[0].new_image, None),
    Record(T1 + timedelta(minutes=55), _key(4), full_book(4), None),
]


@dataclass(frozen=True)
class Chain:
    full: str  # the full export's manifest-summary.json
    incrementals: list[str]


def write_chain(store: BackupStore, prefix: str = "exports/", *, files: int = 3) -> Chain:
    """The three exports under `prefix`, the incrementals' data in the shared AWSDynamoDB/data/."""
    full = write_aws_export(store, FULL_ITEMS, prefix=prefix)
    first = write_aws_incremental(store, FIRST, from_time=T0, to_time=T1, prefix=prefix, files=files)
    second = write_aws_incremental(
        store, SECOND, from_time=T1, to_time=T2, prefix=prefix, files=files, seed=12
    )
    return Chain(full, [first, second])


def expected_state(until: datetime = T2) -> list[dict[str, Any]]:
    """The table at `until`: the full export's items with each change written at or before it applied."""
    state = {item["book_id"]["S"]: item for item in FULL_ITEMS}
    for record in [*FIRST, *SECOND]:
        if record.written > until:
            continue
        name = record.keys["book_id"]["S"]
        if record.new_image is None:
            state.pop(name, None)
        else:
            state[name] = record.new_image
    return sorted(state.values(), key=lambda item: item["book_id"]["S"])


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")
