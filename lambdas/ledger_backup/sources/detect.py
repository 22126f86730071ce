"""Open whatever a user points at: this tool's backup, a scan document, or a DynamoDB export.

The kind is decided by the key where it is unambiguous (`manifest.json`, `manifest-summary.json`,
a folder), and otherwise by the object's first bytes (gzip or not, then the first top-level
keys), never by a file extension a person may have chosen.
"""

from dataclasses import replace

import ijson

from ledger_backup import layout
from ledger_backup.catalog import latest_of, survey
from ledger_backup.sources.aws_export import SUMMARY_NAME, open_aws_export
from ledger_backup.sources.base import NotABackup, Source
from ledger_backup.sources.ledger import ledger_source, open_ledger
from ledger_backup.sources.scan_json import open_scan_json
from ledger_backup.storage.stores import BackupStore
from ledger_backup.storage.streams import ContentStream, open_object, reading

LATEST = "latest"
_SNIFF_BYTES = 64 * 1024
_EXPECTED = (
    "expected a ledger-backup folder or its manifest.json, an `aws dynamodb scan --output json` file "
    "(plain or gzipped), or a DynamoDB export's manifest-summary.json"
)


def open_source(store: BackupStore, key: str) -> Source:
    """Open the backup `key` names, of whichever kind it is.

    Opening checks the backup's own records (manifests; for a scan document, its top level);
    the items are read only through the source's parts.
    """
    name = key.rpartition("/")[2]
    if name == SUMMARY_NAME:
        return open_aws_export(store, key)
    if name == layout.MANIFEST_NAME or not key or key.endswith("/"):
        if key.endswith("/") and store.exists(key + SUMMARY_NAME):
            return open_aws_export(store, key + SUMMARY_NAME)
        return open_ledger(store, key)
    if not store.exists(key):
        if store.exists(f"{key}/{SUMMARY_NAME}"):
            return open_aws_export(store, f"{key}/{SUMMARY_NAME}")
        return open_ledger(store, key)  # a backup folder named without its slash, or nothing at all
    return _open_by_content(store, key)


def open_latest(store: BackupStore, prefix: str, table_name: str) -> Source:
    """The newest complete backup of `table_name` under `prefix` (this tool's backups only).

    Backups whose manifest cannot be read are skipped, and named in the source's notes.
    """
    catalog = survey(store, prefix, table_name)
    source = ledger_source(store, latest_of(store, prefix, table_name, catalog))
    return replace(source, notes=source.notes + catalog.skipped(store))


def _top_level_keys(store: BackupStore, key: str) -> tuple[str, list[str]]:
    """The top-level JSON type and the first keys of the object, from its first bytes only."""
    location = store.location(key)
    reader = open_object(store, key)
    try:
        with reading(location):
            head = ContentStream(reader).read(_SNIFF_BYTES)
    finally:
        reader.close()
    if not head.strip():
        raise NotABackup(f"{location} is empty; {_EXPECTED}")
    events: list[tuple[str, str, object]] = []
    try:
        for event in ijson.parse(head):
            events.append(event)
    except ijson.JSONError as exc:
        # The head usually ends mid-document; what was seen before that is enough, and any
        # other damage further on is reported when the object is read through.
        if not events:
            raise NotABackup(f"{location} is neither JSON nor gzipped JSON; {_EXPECTED}") from exc
    top = events[0][1].removeprefix("start_")
    keys = [str(value) for prefix, event, value in events if prefix == "" and event == "map_key"]
    return top, keys


def _open_by_content(store: BackupStore, key: str) -> Source:
    location = store.location(key)
    top, keys = _top_level_keys(store, key)
    if top == "map" and "Items" in keys:
        return open_scan_json(store, key)
    if top == "map" and "manifestFilesS3Key" in keys:
        return open_aws_export(store, key)
    if top == "map" and keys[:1] == ["Item"]:
        raise NotABackup(
            f'{location} is a single data file ({{"Item": ...}} lines) of a backup or an export, not a whole '
            f"backup: give the backup's {layout.MANIFEST_NAME} or the export's {SUMMARY_NAME}"
        )
    if top == "map" and "format" in keys and "files" in keys:
        raise NotABackup(
            f"{location} looks like a ledger-backup manifest under another name: a manifest must be "
            f"{layout.MANIFEST_NAME} inside its backup folder"
        )
    shape = f"a JSON object with keys {', '.join(keys[:8])}" if top == "map" else f"a JSON {top}"
    raise NotABackup(f"{location} is {shape}, not a backup this tool reads; {_EXPECTED}")
