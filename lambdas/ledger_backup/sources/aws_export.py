"""DynamoDB's own "Export to S3" in DYNAMODB_JSON format, as AWS documents it.

    <export-prefix>/AWSDynamoDB/<ExportId>/manifest-summary.json   itemCount, outputFormat, manifestFilesS3Key
    <export-prefix>/AWSDynamoDB/<ExportId>/manifest-files.json     JSON lines: itemCount, md5Checksum, etag,
                                                                  dataFileS3Key
    <export-prefix>/AWSDynamoDB/<ExportId>/data/<name>.json.gz     gzipped lines `{"Item": {...}}`

(docs.aws.amazon.com/amazondynamodb/latest/developerguide/S3DataExport.Output.html). md5Checksum
is the base64 MD5 of the stored (gzipped) object. The manifests name objects by their full keys
at export time; they are read relative to the folder of the manifest-summary.json given, so an
export that was copied to another prefix, bucket or a local folder still reads, and nothing
outside that folder is ever read.
"""

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ledger_backup.codec import Item
from ledger_backup.errors import CorruptBackup
from ledger_backup.sources.base import NotABackup, ReadMeter, Source, SourceKind, StoredItem
from ledger_backup.sources.lines import EXPORT_LINES, item_lines, stored_lines
from ledger_backup.storage.stores import BackupStore
from ledger_backup.storage.streams import Checksum, Expected

SUMMARY_NAME = "manifest-summary.json"
FILES_NAME = "manifest-files.json"
INTEGRITY = "MD5 and item count of every data file, against manifest-files.json and manifest-summary.json"


@dataclass(frozen=True)
class ExportFile:
    """One line of manifest-files.json, with the key it is read from."""

    key: str
    item_count: int
    md5_base64: str


def _load_json(raw: bytes, where: str) -> Any:
    try:
        return json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CorruptBackup(f"{where} is not valid JSON: {exc}") from exc


def _count(value: Any, what: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise CorruptBackup(f"{what} is {value!r}, not a count")
    return value


def _string(document: dict[str, Any], name: str, where: str) -> str:
    value = document.get(name)
    if not isinstance(value, str) or not value:
        raise CorruptBackup(f"{where} lacks {name}")
    return value


def _relative(key: str, original_folder: str, where: str) -> str:
    """The key's path inside its export folder; refuse keys that point elsewhere."""
    if not key.startswith(original_folder):
        raise CorruptBackup(
            f"{where} names {key!r}, which is outside the export's folder {original_folder!r}"
        )
    relative = key[len(original_folder) :]
    if not relative or ".." in relative.split("/"):
        raise CorruptBackup(f"{where} names an invalid data file key {key!r}")
    return relative


def open_aws_export(store: BackupStore, summary_key: str) -> Source:
    """Open an export from its manifest-summary.json: check both manifests agree, list the data files."""
    where = store.location(summary_key)
    summary = _load_json(store.get(summary_key), f"manifest {where}")
    if not isinstance(summary, dict) or "manifestFilesS3Key" not in summary:
        raise NotABackup(
            f"{where} is not a DynamoDB export's manifest-summary.json (it has no manifestFilesS3Key)"
        )
    output_format = summary.get("outputFormat", "DYNAMODB_JSON")
    if output_format != "DYNAMODB_JSON":
        raise NotABackup(
            f"{where} is an export in {output_format} format; this tool reads DYNAMODB_JSON exports"
        )
    export_type = summary.get("exportType", "FULL_EXPORT")
    if export_type != "FULL_EXPORT":
        raise NotABackup(
            f"{where} is an {export_type}: it holds changes over a time window, not a table; "
            "restore a full export"
        )
    item_count = _count(summary.get("itemCount"), f"itemCount in {where}")
    files_key_at_export = _string(summary, "manifestFilesS3Key", where)
    original_folder = files_key_at_export.rpartition("/")[0] + "/" if "/" in files_key_at_export else ""
    folder = summary_key.rpartition("/")[0] + "/" if "/" in summary_key else ""
    files_key = folder + FILES_NAME
    files = _read_files_manifest(store, files_key, folder, original_folder)
    listed = sum(f.item_count for f in files)
    if listed != item_count:
        raise CorruptBackup(
            f"the export's manifests disagree: {where} says {item_count} items but "
            f"{store.location(files_key)} lists {listed} in {len(files)} files"
        )
    table_arn = summary.get("tableArn")
    return Source(
        kind=SourceKind.DYNAMODB_EXPORT,
        key=summary_key,
        location=where,
        parts=tuple(ExportPart(store, f) for f in files),
        schema=None,
        expected_items=item_count,
        integrity=INTEGRITY,
        table_name=table_arn.rpartition("/")[2] if isinstance(table_arn, str) and table_arn else None,
        notes=(f"exported at {summary['exportTime']}",) if isinstance(summary.get("exportTime"), str) else (),
        as_of=_export_time(summary),
    )


def _export_time(summary: dict[str, Any]) -> datetime | None:
    """The full export's exportTime, the moment its items are the table's (an incremental's start).

    None when it is missing or unreadable: only a chain needs it, and says so then."""
    text = summary.get("exportTime")
    try:
        moment = datetime.fromisoformat(text) if isinstance(text, str) else None
    except ValueError:
        return None
    if moment is None:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _read_files_manifest(
    store: BackupStore, files_key: str, folder: str, original_folder: str
) -> list[ExportFile]:
    where = store.location(files_key)
    files: list[ExportFile] = []
    for number, line in enumerate(store.get(files_key).splitlines(), start=1):
        if not line.strip():
            continue
        entry = _load_json(line, f"{where}, line {number},")
        line_where = f"{where}, line {number}"
        if not isinstance(entry, dict):
            raise CorruptBackup(f"{line_where} is not a JSON object")
        key = _string(entry, "dataFileS3Key", line_where)
        files.append(
            ExportFile(
                key=folder + _relative(key, original_folder, line_where),
                item_count=_count(entry.get("itemCount"), f"itemCount in {line_where}"),
                md5_base64=_string(entry, "md5Checksum", line_where),
            )
        )
    return files


@dataclass(frozen=True)
class ExportPart:
    store: BackupStore
    file: ExportFile

    @property
    def location(self) -> str:
        return self.store.location(self.file.key)

    @property
    def expected_items(self) -> int:
        return self.file.item_count

    @property
    def expected(self) -> Expected:
        """What manifest-files.json promises about the file: its MD5 and item count."""
        return Expected(
            item_count=self.file.item_count,
            checksum=Checksum.md5_base64(self.file.md5_base64),
            checksum_by=FILES_NAME,
            count_by=f"{FILES_NAME} lists",
        )

    def items(self, meter: ReadMeter | None = None) -> Iterator[Item]:
        for item, _ in self.entries(meter):
            yield item

    def entries(self, meter: ReadMeter | None = None) -> Iterator[StoredItem]:
        """The file's items; then its MD5 and line count are checked against manifest-files.json."""
        return stored_lines(self.store, self.file.key, self.expected, EXPORT_LINES, meter)

    def item_lines(self, meter: ReadMeter | None = None) -> Iterator[bytes]:
        return item_lines(self.store, self.file.key, self.expected, EXPORT_LINES, meter)
