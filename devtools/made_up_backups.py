"""Backups of made-up ages, written straight into a store: what retention tests and the README example prune.

Each is a real folder in the tool's layout (a data file and the manifest that lists it), dated by the
times its manifest records, so the catalog, the policy and the pruner see it as they see any backup.
The data file's bytes are not a real backup's (nothing here restores them).
"""

import hashlib
from datetime import UTC, datetime, timedelta

from ledger_backup import layout
from ledger_backup.manifest import DataFile, Manifest
from ledger_backup.schema import TableSchema
from ledger_backup.storage.stores import BackupStore

SCHEMA = TableSchema(
    key_schema=[{"AttributeName": "book_id", "KeyType": "HASH"}],
    attribute_definitions=[{"AttributeName": "book_id", "AttributeType": "S"}],
)
DATA = b"made-up backup data\n"


def write_made_up_backup(
    store: BackupStore,
    prefix: str,
    table: str,
    finished: datetime,
    *,
    label: str | None = None,
    retain_until: datetime | None = None,
    complete: bool = True,
) -> str:
    """A backup of `table` that finished at `finished` (started a minute before); its folder."""
    started = finished - timedelta(minutes=1)
    folder = layout.backup_folder(prefix, table, started)
    entry = DataFile(
        key=layout.data_file_name(0, 0, "madeup"),
        item_count=1,
        compressed_bytes=len(DATA),
        uncompressed_bytes=len(DATA),
        sha256=hashlib.sha256(DATA).hexdigest(),
    )
    store.put(folder + entry.key, DATA)
    if complete:
        manifest = Manifest(
            table_name=table,
            table_arn=f"arn:aws:dynamodb:us-east-1:123456789012:table/{table}",
            schema=SCHEMA,
            started_at=started.isoformat(),
            finished_at=finished.isoformat(),
            total_segments=1,
            files=[entry],
            label=label,
            retain_until=retain_until.isoformat() if retain_until is not None else None,
        )
        store.put(layout.manifest_key(folder), manifest.to_json_bytes())
    return folder


def daily_backups(store: BackupStore, prefix: str, table: str, last: datetime, days: int) -> list[str]:
    """One backup a day at `last`'s time of day, for `days` days up to `last`; folders oldest first."""
    return [
        write_made_up_backup(store, prefix, table, last - timedelta(days=n)) for n in reversed(range(days))
    ]


def utc(text: str) -> datetime:
    """`2026-12-04T06:00` as an aware UTC time."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)
