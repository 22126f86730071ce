"""Write a table in the runbook's old format, byte for byte what `aws dynamodb scan --output json` prints.

So the runbook's one-liner `len(json.load(open(f))["Items"])` keeps working on new backups,
and tools built around the old files can read them. The document is streamed page by page
(constant memory) into an all-or-nothing upload; a `.gz` name gzips it on the way.
"""

import gzip
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ledger_backup.aws.tables import require_table, scan_page_size
from ledger_backup.codec import encode_item_indented
from ledger_backup.errors import InvalidRequest
from ledger_backup.reporting import SCANNING, ProgressListener
from ledger_backup.storage.stores import BackupStore, Upload

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

_ITEM_INDENT = "\n        "  # items sit two levels deep in the document


@dataclass(frozen=True)
class ScanJsonResult:
    table_name: str
    location: str
    item_count: int
    object_bytes: int
    compressed: bool
    duration_seconds: float


class _CountingSink:
    """Counts the bytes that reach the upload."""

    def __init__(self, upload: Upload) -> None:
        self.upload = upload
        self.size = 0

    def write(self, data: bytes) -> int:
        self.size += len(data)
        return self.upload.write(data)

    def flush(self) -> None:
        self.upload.flush()


def document_head() -> str:
    return '{\n    "Items": ['


def document_tail(item_count: int) -> str:
    """What follows the items, in the order botocore's build_full_result gives the CLI."""
    close = "\n    ]" if item_count else "]"
    return (
        f'{close},\n    "Count": {item_count},\n    "ScannedCount": {item_count},\n'
        '    "ConsumedCapacity": null\n}\n'
    )


def write_scan_json(
    dynamodb: "DynamoDBClient",
    store: BackupStore,
    key: str,
    table_name: str,
    *,
    compress: bool | None = None,
    page_size: int | None = None,
    on_progress: ProgressListener | None = None,
) -> ScanJsonResult:
    """Scan `table_name` consistently into a scan document at `key`, gzipped when `compress`.

    `compress` defaults to whether the key ends in `.gz`; `on_progress` hears of each page's items.
    """
    started = time.monotonic()
    compress = key.endswith(".gz") if compress is None else compress
    if store.exists(key):
        raise InvalidRequest(f"{store.location(key)} already exists; choose another file name")
    table = require_table(dynamodb, table_name)
    if on_progress is not None:
        on_progress.begin(SCANNING, table.get("ItemCount") or None)
    upload = store.open_upload(key)
    sink = _CountingSink(upload)
    stream = (
        gzip.GzipFile(filename="", mode="wb", fileobj=sink, compresslevel=6, mtime=0) if compress else sink
    )
    count = 0
    try:
        stream.write(document_head().encode("utf-8"))
        pages = dynamodb.get_paginator("scan").paginate(
            TableName=table_name,
            ConsistentRead=True,
            PaginationConfig={"PageSize": page_size or scan_page_size(table)},
        )
        for page in pages:
            chunks = []
            for item in page.get("Items", []):
                chunks.append(
                    ("," if count else "")
                    + _ITEM_INDENT
                    + encode_item_indented(item).replace("\n", _ITEM_INDENT)
                )
                count += 1
            stream.write("".join(chunks).encode("utf-8"))
            if on_progress is not None:
                on_progress.advance(len(chunks))
        stream.write(document_tail(count).encode("utf-8"))
        if isinstance(stream, gzip.GzipFile):
            stream.close()
        upload.commit()
    except BaseException:
        upload.abort()
        raise
    return ScanJsonResult(
        table_name=table_name,
        location=store.location(key),
        item_count=count,
        object_bytes=sink.size,
        compressed=compress,
        duration_seconds=round(time.monotonic() - started, 3),
    )
