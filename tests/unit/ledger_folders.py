"""Ledger-backup folders written straight into a LocalStore, as the backup engine leaves them.

For unit tests of what reads backups (verify, the restore writer): no DynamoDB needed.
"""

from datetime import UTC, datetime
from typing import Any

from ledger_backup import layout
from ledger_backup.backup.data_files import DataFileWriter
from ledger_backup.codec import encode_line
from ledger_backup.manifest import Manifest
from ledger_backup.schema import TableSchema
from ledger_backup.sources import Source, open_source
from ledger_backup.storage.stores import LocalStore

Item = dict[str, Any]

SCHEMA = TableSchema(
    key_schema=[{"AttributeName": "pk", "KeyType": "HASH"}],
    attribute_definitions=[{"AttributeName": "pk", "AttributeType": "S"}],
)


def items(first: int, count: int) -> list[Item]:
    """`count` items with keys k<first>... and a number and a binary value each."""
    return [
        {"pk": {"S": f"k{n:04d}"}, "n": {"N": str(n)}, "b": {"B": bytes([n % 256])}}
        for n in range(first, first + count)
    ]


def write_backup(store: LocalStore, parts: list[list[Item]], table: str = "ledger") -> str:
    """A complete backup whose data files hold `parts`, in order; returns the manifest's key."""
    folder = layout.backup_folder("backups/", table, datetime(2026, 11, 25, 3, tzinfo=UTC))
    files = []
    for number, part in enumerate(parts):
        writer = DataFileWriter(store, folder, f"data/segment-{number:04d}-part-0000-x.json.gz", 3)
        writer.write_lines("".join(encode_line(item) + "\n" for item in part), len(part))
        files.append(writer.finish())
    manifest = Manifest(
        table_name=table,
        table_arn=f"arn:aws:dynamodb:us-east-1:123456789012:table/{table}",
        schema=SCHEMA,
        started_at="2026-11-25T03:00:00+00:00",
        finished_at="2026-11-25T03:01:00+00:00",
        total_segments=len(parts),
        files=files,
    )
    store.put_new(layout.manifest_key(folder), manifest.to_json_bytes())
    return layout.manifest_key(folder)


def open_backup(store: LocalStore, parts: list[list[Item]]) -> Source:
    return open_source(store, write_backup(store, parts))
