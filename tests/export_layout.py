"""DynamoDB exports in AWS's documented layout, built by the tests (DynamoDB Local exports nothing;
moto writes one data file and no manifests).

    <root>AWSDynamoDB/<ExportId>/manifest-summary.json    (+ manifest-summary.md5)
    <root>AWSDynamoDB/<ExportId>/manifest-files.json      (+ manifest-files.md5), one JSON line per file
    <root>AWSDynamoDB/<ExportId>/_started
    <root>AWSDynamoDB/<ExportId>/data/<name>.json.gz      full export: {"Item": ...} lines
    <root>AWSDynamoDB/data/<name>.json.gz                 incremental: change records, a shared folder

(S3DataExport.Output.html.) `recorded_root` is the S3Prefix the manifests name, which differs
from `root` for an export copied to another prefix.
"""

import base64
import gzip
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ledger_backup.codec import Item, encode_item
from ledger_backup.storage.stores import BackupStore

ACCOUNT = "123456789012"
REGION = "us-east-1"


def export_arn(table: str, export_id: str) -> str:
    return f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{table}/export/{export_id}"


def item_lines(items: Sequence[Item]) -> bytes:
    return b"".join(b'{"Item":' + encode_item(item).encode() + b"}\n" for item in items)


def change_lines(changes: Sequence[dict[str, Any]]) -> bytes:
    """Change records as incremental exports write them (keys, then the images given)."""
    return b"".join(json.dumps(change, separators=(",", ":")).encode() + b"\n" for change in changes)


def md5_base64(data: bytes) -> str:
    return base64.b64encode(hashlib.md5(data, usedforsecurity=False).digest()).decode()


@dataclass
class DataFile:
    """One data file: its stored bytes (gzip, or b"" for an empty partition) and its item count."""

    name: str
    body: bytes
    count: int


def gz(content: bytes) -> bytes:
    return gzip.compress(content, mtime=0)


def write_export(
    store: BackupStore,
    root: str,
    export_id: str,
    table: str,
    files: Sequence[DataFile],
    *,
    kind: str = "FULL_EXPORT",
    export_time: str | None = None,
    from_time: str | None = None,
    to_time: str | None = None,
    recorded_root: str | None = None,
    data_keys: Sequence[str] | None = None,
    arn: str | None = None,
) -> str:
    """Write the export's manifests (and its data files unless `data_keys` names existing ones).

    Returns the summary's key.
    """
    recorded = root if recorded_root is None else recorded_root
    folder = f"{root}AWSDynamoDB/{export_id}/"
    data_folder = f"AWSDynamoDB/{export_id}/data/" if kind == "FULL_EXPORT" else "AWSDynamoDB/data/"
    lines = []
    for n, data_file in enumerate(files):
        relative = data_keys[n][len(root) :] if data_keys is not None else f"{data_folder}{data_file.name}"
        if data_keys is None:
            store.put(root + relative, data_file.body)
        lines.append(
            {
                "itemCount": data_file.count,
                "md5Checksum": md5_base64(data_file.body),
                "etag": hashlib.md5(data_file.body, usedforsecurity=False).hexdigest(),
                "dataFileS3Key": recorded + relative,
            }
        )
    files_json = b"".join(json.dumps(line).encode() + b"\n" for line in lines)
    summary: dict[str, Any] = {
        "version": "2020-06-30" if kind == "FULL_EXPORT" else "2023-08-01",
        "exportArn": arn or export_arn(table, export_id),
        "startTime": "2026-12-04T03:00:01.000Z",
        "endTime": "2026-12-04T03:07:43.897Z",
        "tableArn": f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{table}",
        "tableId": "12345a12-abcd-123a-ab12-1234abc12345",
        "s3Bucket": "the-bucket",
        "s3Prefix": recorded.rstrip("/") or None,
        "s3SseAlgorithm": "AES256",
        "s3SseKmsKeyId": None,
        "manifestFilesS3Key": f"{recorded}AWSDynamoDB/{export_id}/manifest-files.json",
        "billedSizeBytes": sum(len(f.body) for f in files),
        "itemCount": sum(f.count for f in files),
        "outputFormat": "DYNAMODB_JSON",
        "exportType": kind,
    }
    if kind == "FULL_EXPORT":
        summary["exportTime"] = export_time
    else:
        summary.update(exportFromTime=from_time, exportToTime=to_time, outputView="NEW_AND_OLD_IMAGES")
    summary_json = json.dumps(summary).encode()
    store.put(folder + "manifest-files.json", files_json)
    store.put(
        folder + "manifest-files.md5", hashlib.md5(files_json, usedforsecurity=False).hexdigest().encode()
    )
    store.put(folder + "manifest-summary.json", summary_json)
    store.put(
        folder + "manifest-summary.md5", hashlib.md5(summary_json, usedforsecurity=False).hexdigest().encode()
    )
    store.put(folder + "_started", b"")
    return folder + "manifest-summary.json"
