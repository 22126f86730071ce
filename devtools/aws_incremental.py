"""DynamoDB incremental exports (DYNAMODB_JSON) written the way AWS documents them, for tests.

docs.aws.amazon.com/amazondynamodb/latest/developerguide/S3DataExport.Output.html, "Incremental
export output": under `<prefix>AWSDynamoDB/<ExportId>/` the manifest-summary.json (version
2023-08-01, exportType INCREMENTAL_EXPORT, exportFromTime/exportToTime, no exportTime), its
manifest-files.json, a `.md5` file beside each and the `_started` marker; the data files in the
`<prefix>AWSDynamoDB/data/` folder that every export under the prefix shares. Each data line is
`{"Metadata": {"WriteTimestampMicros": {"N": ...}}, "Keys": ..., "OldImage": ..., "NewImage": ...}`
(NEW_AND_OLD_IMAGES): an insert has no OldImage, a delete no NewImage.
"""

import base64
import gzip
import hashlib
import json
import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from devtools.legacy_formats import DEFAULT_TABLE_ARN
from ledger_backup.storage.stores import BackupStore

_BASE32 = "abcdefghijklmnopqrstuvwxyz234567"


@dataclass(frozen=True)
class Record:
    """One changed item: when, its key, and its images before the window and at its last change."""

    written: datetime
    keys: dict[str, Any]
    old_image: dict[str, Any] | None = None
    new_image: dict[str, Any] | None = None

    def line(self) -> str:
        document: dict[str, Any] = {
            "Metadata": {"WriteTimestampMicros": {"N": str(_micros(self.written))}},
            "Keys": self.keys,
        }
        if self.old_image is not None:
            document["OldImage"] = self.old_image
        if self.new_image is not None:
            document["NewImage"] = self.new_image
        return json.dumps(document, separators=(",", ":")) + "\n"


def _micros(moment: datetime) -> int:
    return int(moment.timestamp()) * 1_000_000 + moment.microsecond


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _md5_base64(data: bytes) -> str:
    return base64.b64encode(hashlib.md5(data, usedforsecurity=False).digest()).decode("ascii")


def write_aws_incremental(
    store: BackupStore,
    records: Sequence[Record],
    *,
    from_time: datetime,
    to_time: datetime,
    prefix: str = "",
    files: int = 2,
    seed: int = 11,
    bucket: str = "jsmith-backups",
    table_arn: str = DEFAULT_TABLE_ARN,
) -> str:
    """Lay out one incremental export of `records`; return the key of its manifest-summary.json.

    With more files than records some data files are empty, as AWS writes them for partitions
    that did not change.
    """
    rng = random.Random(seed)  # noqa: S311 - test data
    export_id = f"{int(to_time.timestamp() * 1000):014d}-{rng.getrandbits(32):08x}"
    folder = f"{prefix}AWSDynamoDB/{export_id}/"
    store.put(folder + "_started", b"")
    lines: list[list[str]] = [[] for _ in range(files)]
    for record in records:
        lines[rng.randrange(files)].append(record.line())
    entries = []
    for file_lines in lines:
        data = gzip.compress("".join(file_lines).encode("utf-8"), mtime=0)
        key = f"{prefix}AWSDynamoDB/data/" + "".join(rng.choice(_BASE32) for _ in range(26)) + ".json.gz"
        store.put(key, data)
        entries.append(
            {"itemCount": len(file_lines), "md5Checksum": _md5_base64(data), "etag": "", "dataFileS3Key": key}
        )
    files_json = ("\n".join(json.dumps(e) for e in entries) + "\n").encode("utf-8")
    store.put(folder + "manifest-files.json", files_json)
    store.put(
        folder + "manifest-files.md5", hashlib.md5(files_json, usedforsecurity=False).hexdigest().encode()
    )
    summary = {
        "version": "2023-08-01",
        "exportArn": f"{table_arn}/export/{export_id}",
        "startTime": _iso(to_time),
        "endTime": _iso(to_time),
        "tableArn": table_arn,
        "tableId": "0a1b2c3d-0000-4000-8000-00000000abcd",
        "exportFromTime": _iso(from_time),
        "exportToTime": _iso(to_time),
        "s3Bucket": bucket,
        "s3Prefix": prefix.rstrip("/") or None,
        "s3SseAlgorithm": "AES256",
        "s3SseKmsKeyId": None,
        "manifestFilesS3Key": folder + "manifest-files.json",
        "billedSizeBytes": 0,
        "itemCount": len(records),
        "outputFormat": "DYNAMODB_JSON",
        "outputView": "NEW_AND_OLD_IMAGES",
        "exportType": "INCREMENTAL_EXPORT",
    }
    summary_json = json.dumps(summary, indent=3).encode("utf-8")
    store.put(folder + "manifest-summary.json", summary_json)
    store.put(
        folder + "manifest-summary.md5", hashlib.md5(summary_json, usedforsecurity=False).hexdigest().encode()
    )
    return folder + "manifest-summary.json"
