"""The runbook's backups: `aws dynamodb scan --output json > file`, plain or gzipped, of any size.

The document is `{"Items": [...], "Count": N, "ScannedCount": N, "ConsumedCapacity": null}`
(the AWS CLI prints Count after the items), so it is streamed with ijson and never loaded
whole. Opening reads it through once without building items (cheap in ijson's C backend) to
check its shape and learn Count before anything else happens; each read of the part then
builds the items and checks their number against Count.

The format has no checksums: a changed byte inside a string goes unnoticed unless it breaks
the JSON (or, for a gzipped file, gzip's CRC-32 catches it).
"""

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import ijson

from ledger_backup.codec import Item, item_from_document
from ledger_backup.errors import CorruptBackup, IncompleteBackup
from ledger_backup.sources.base import NotABackup, ReadMeter, Source, SourceKind, StoredItem
from ledger_backup.storage.stores import BackupStore
from ledger_backup.storage.streams import (
    BoundedContent,
    ContentStream,
    Expected,
    check_read,
    open_object,
    reading,
)

ITEMS_PREFIX = "Items.item"
_SUMMARY_PREFIXES = frozenset({"", "Items", "Count", "ScannedCount", "NextToken", "LastEvaluatedKey"})
_WITHIN_ITEM = frozenset({"start_map", "start_array", "map_key"})  # at ITEMS_PREFIX: the item goes on
_TEXT = frozenset({"string", "map_key"})
_PARSE_BUFFER = 256 * 1024
INTEGRITY = "JSON structure and the document's Count (the scan format has no checksums)"


@dataclass(frozen=True)
class ScanSummary:
    """The document's top level, without its items."""

    keys: tuple[str, ...]
    count: int | None
    scanned_count: int | None
    truncated_by: str | None  # NextToken or LastEvaluatedKey: the scan stopped before the end


def read_summary(store: BackupStore, key: str) -> ScanSummary:
    """Read the document through once, keeping only its top-level events; check its shape."""
    location = store.location(key)
    reader = open_object(store, key)
    events: list[tuple[str, str, Any]] = []
    try:
        with reading(location):
            bounded = BoundedContent(ContentStream(reader), location, tokens=True)
            items = 0
            for event in ijson.parse(bounded, buf_size=_PARSE_BUFFER):
                bounded.since_token = 0
                prefix = event[0]
                if prefix in _SUMMARY_PREFIXES:
                    events.append(event)
                    bounded.item_ended(items)
                elif prefix == ITEMS_PREFIX and event[1] not in _WITHIN_ITEM:
                    items += 1
                    bounded.item_ended(items)
                elif event[1] in _TEXT:  # its spaces too: a string is held whole, not skipped
                    bounded.since_item += len(event[2])
    finally:
        reader.close()
    if not events or events[0][1] != "start_map":
        found = events[0][1].removeprefix("start_") if events else "nothing"
        raise NotABackup(
            f"{location} is JSON but not a scan document: its top level is {found}, not an object"
        )
    keys = tuple(value for prefix, event, value in events if prefix == "" and event == "map_key")
    if "Items" not in keys:
        raise NotABackup(
            f'{location} is a JSON object without "Items" (keys: {", ".join(keys[:8]) or "none"}): '
            "not an `aws dynamodb scan --output json` document"
        )
    if ("Items", "start_array", None) not in events:
        raise NotABackup(f'{location}: "Items" is not an array, so this is not a scan document')
    values = {
        prefix: value for prefix, event, value in events if prefix and event not in ("start_map", "end_map")
    }
    truncated = next((name for name in ("NextToken", "LastEvaluatedKey") if name in keys), None)
    return ScanSummary(
        keys=keys,
        count=_count(values.get("Count"), "Count", location),
        scanned_count=_count(values.get("ScannedCount"), "ScannedCount", location),
        truncated_by=truncated,
    )


def _count(value: Any, name: str, location: str) -> int | None:
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise CorruptBackup(f"{location}: {name} is {value!r}, not a count")
    return value


def open_scan_json(store: BackupStore, key: str) -> Source:
    """Open a scan document; refuse one that is not whole (a NextToken means the CLI stopped early)."""
    location = store.location(key)
    summary = read_summary(store, key)
    if summary.truncated_by:
        raise IncompleteBackup(
            f"{location} holds only part of a table: it ends with {summary.truncated_by}, so the scan "
            "stopped early (--max-items or a single page); scan again without --max-items"
        )
    notes: list[str] = []
    if summary.count is None:
        notes.append("the document has no Count, so the number of items cannot be checked")
    if (
        summary.scanned_count is not None
        and summary.count is not None
        and summary.scanned_count != summary.count
    ):
        notes.append(
            f"a filtered scan: it holds {summary.count} of the {summary.scanned_count} items scanned, "
            "not the whole table"
        )
    part = ScanJsonPart(store, key, summary.count)
    return Source(
        kind=SourceKind.SCAN_JSON,
        key=key,
        location=location,
        parts=(part,),
        schema=None,
        expected_items=summary.count,
        integrity=INTEGRITY,
        notes=tuple(notes),
    )


@dataclass(frozen=True)
class ScanJsonPart:
    """The whole document is one part; its items come in the document's order."""

    store: BackupStore
    key: str
    count: int | None

    @property
    def location(self) -> str:
        return self.store.location(self.key)

    @property
    def expected_items(self) -> int | None:
        return self.count

    def entries(self, meter: ReadMeter | None = None) -> Iterator[StoredItem]:
        """A scan document stores no PutRequest text: the items are encoded when written."""
        for item in self.items(meter):
            yield item, None

    def items(self, meter: ReadMeter | None = None) -> Iterator[Item]:
        location = self.location
        reader = open_object(self.store, self.key)
        seen = 0
        try:
            with reading(location):
                stream = BoundedContent(ContentStream(reader), location, tokens=False)
                for document in ijson.items(stream, ITEMS_PREFIX, buf_size=_PARSE_BUFFER):
                    seen += 1
                    stream.item_ended(seen)
                    try:
                        item = item_from_document(document)
                    except ValueError as exc:
                        raise CorruptBackup(f"{location}, item {seen}: {exc}") from exc
                    yield item
                reader.drain()
                content_bytes = stream.size
        finally:
            reader.close()
        if meter is not None:  # counted even when Count disagrees: the document was read through
            meter.object_bytes += reader.size
            meter.json_bytes += content_bytes
        check_read(location, Expected(item_count=self.count, count_by="its Count says"), reader, seen)
