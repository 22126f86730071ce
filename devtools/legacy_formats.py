"""Backups in the formats the user already has, written the way AWS writes them, for tests and benchmarks.

- `scan_json_document`: what `aws dynamodb scan --output json` prints. The CLI merges the pages
  with botocore's `build_full_result` (Items, Count, ScannedCount, then the non-aggregated
  ConsumedCapacity, null unless asked for) and prints it with `json.dump(indent=4,
  ensure_ascii=False)`; it leaves blobs as the base64 text of the wire (blob_parser=identity).
- `write_aws_export`: a DynamoDB "Export to S3" in DYNAMODB_JSON format as documented in
  docs.aws.amazon.com/amazondynamodb/latest/developerguide/S3DataExport.Output.html:
  `<prefix>AWSDynamoDB/<ExportId>/manifest-summary.json`, `manifest-files.json` (JSON lines) and
  `data/<name>.json.gz` files of `{"Item": ...}` lines, plus the empty `_started` marker.
  (The `.checksum` files AWS also writes are not documented in detail, so none are made here.)
"""

import base64
import gzip
import hashlib
import json
import random
import uuid
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from ledger_backup.codec import encode_line
from ledger_backup.storage.stores import BackupStore

DEFAULT_TABLE_ARN = "arn:aws:dynamodb:us-east-1:123456789012:table/jsmith-pipeline-ledger"
_BASE32 = "abcdefghijklmnopqrstuvwxyz234567"


def _blob_as_text(value: object) -> str:
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(value).decode("ascii")
    raise TypeError(f"not JSON: {type(value).__name__}")


def scan_json_document(items: Sequence[dict[str, Any]], *, scanned_count: int | None = None) -> bytes:
    """The bytes `aws dynamodb scan --output json > file` writes for a table holding `items`."""
    document = {
        "Items": list(items),
        "Count": len(items),
        "ScannedCount": len(items) if scanned_count is None else scanned_count,
        "ConsumedCapacity": None,
    }
    text = json.dumps(document, indent=4, ensure_ascii=False, default=_blob_as_text) + "\n"
    return text.encode("utf-8")


def write_scan_json(
    store: BackupStore, key: str, items: Sequence[dict[str, Any]], *, compress: bool = False
) -> str:
    """Store a scan document (gzipped when asked, as `gzip file.json` would) and return its key."""
    data = scan_json_document(items)
    store.put(key, gzip.compress(data, mtime=0) if compress else data)
    return key


def _export_id(rng: random.Random, moment: datetime) -> str:
    """Like AWS's: milliseconds since the epoch, then 8 hex digits (e.g. 01680958677849-381aef7c)."""
    return f"{int(moment.timestamp() * 1000):014d}-{rng.getrandbits(32):08x}"


def _data_file_name(rng: random.Random) -> str:
    return "".join(rng.choice(_BASE32) for _ in range(26)) + ".json.gz"


def _multipart_etag(data: bytes) -> str:
    """S3's ETag of an object uploaded in one multipart part, as in AWS's manifest-files example."""
    part = hashlib.md5(data, usedforsecurity=False).digest()
    return hashlib.md5(part, usedforsecurity=False).hexdigest() + "-1"


def write_aws_export(
    store: BackupStore,
    items: Iterable[dict[str, Any]],
    *,
    prefix: str = "",
    files: int = 3,
    table_arn: str = DEFAULT_TABLE_ARN,
    seed: int = 7,
    bucket: str = "jsmith-backups",
) -> str:
    """Lay out a full export of `items` under `prefix`; return the key of its manifest-summary.json.

    Items are spread over `files` data files as partitions spread them; with fewer items than
    files some files are empty, which AWS also produces for empty partitions.
    """
    rng = random.Random(seed)  # noqa: S311 - test data
    started = datetime(2026, 2, 14, 7, 28, 34, 28000, tzinfo=UTC)
    export_id = _export_id(rng, started)
    folder = f"{prefix}AWSDynamoDB/{export_id}/"
    store.put(folder + "_started", b"")
    lines: list[list[str]] = [[] for _ in range(files)]
    for item in items:
        lines[rng.randrange(files)].append(encode_line(item) + "\n")
    manifest_lines = []
    total = 0
    for file_lines in lines:
        data = gzip.compress("".join(file_lines).encode("utf-8"), mtime=0)
        key = f"{folder}data/{_data_file_name(rng)}"
        store.put(key, data)
        total += len(file_lines)
        entry = {
            "itemCount": len(file_lines),
            "md5Checksum": base64.b64encode(hashlib.md5(data, usedforsecurity=False).digest()).decode(
                "ascii"
            ),
            "etag": _multipart_etag(data),
            "dataFileS3Key": key,
        }
        manifest_lines.append(json.dumps(entry))
    files_key = folder + "manifest-files.json"
    store.put(files_key, ("\n".join(manifest_lines) + "\n").encode("utf-8"))
    summary = {
        "version": "2020-06-30",
        "exportArn": f"{table_arn}/export/{export_id}",
        "startTime": _iso(started),
        "endTime": _iso(started + timedelta(minutes=5, seconds=9)),
        "tableArn": table_arn,
        "tableId": str(uuid.UUID(int=rng.getrandbits(128))),
        "exportTime": _iso(started),
        "s3Bucket": bucket,
        "s3Prefix": prefix.rstrip("/") or None,
        "s3SseAlgorithm": "AES256",
        "s3SseKmsKeyId": None,
        "manifestFilesS3Key": files_key,
        "billedSizeBytes": 0,
        "itemCount": total,
        "outputFormat": "DYNAMODB_JSON",
        "exportType": "FULL_EXPORT",
    }
    summary_key = folder + "manifest-summary.json"
    store.put(summary_key, json.dumps(summary, indent=3).encode("utf-8"))
    return summary_key


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
