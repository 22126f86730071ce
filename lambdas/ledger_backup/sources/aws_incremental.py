"""DynamoDB's incremental exports (DYNAMODB_JSON), as AWS documents them, read as a list of changes.

    <export-prefix>/AWSDynamoDB/<ExportId>/manifest-summary.json   version 2023-08-01, exportType
                                                                  INCREMENTAL_EXPORT, exportFromTime,
                                                                  exportToTime, itemCount, manifestFilesS3Key
    <export-prefix>/AWSDynamoDB/<ExportId>/manifest-files.json     JSON lines: itemCount, md5Checksum,
                                                                  dataFileS3Key
    <export-prefix>/AWSDynamoDB/<ExportId>/manifest-summary.md5    (and manifest-files.md5)
    <export-prefix>/AWSDynamoDB/data/<name>.json.gz                gzipped lines, shared by the exports
                                                                  under the prefix

Each data line is one changed item: `{"Metadata": {"WriteTimestampMicros": {"N": ...}}, "Keys": {...},
"OldImage": {...}, "NewImage": {...}}`. A line with a NewImage is the item's state at the export's
end (an insert or an update: the whole item, so an attribute the update removed is not in it);
one without (only Keys and OldImage, or only Keys with the NEW_IMAGES view) is a delete. The
export is compacted: an item changed several times in the window appears once, with its last
change (aws.amazon.com/blogs/database/introducing-incremental-export-from-amazon-dynamodb-to-amazon-s3),
so the order of the lines does not matter. The data folder is shared by every export under the
prefix, so it is never listed: only the files manifest-files.json names are read, relative to the
AWSDynamoDB/ folder the given manifest-summary.json sits in (an export copied elsewhere, with its
data folder, still reads).
"""

import base64
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ledger_backup.codec import Item, fast_loads, item_from_document
from ledger_backup.errors import CorruptBackup, InvalidRequest
from ledger_backup.restore.digest import canonical_key_text
from ledger_backup.sources.aws_export import FILES_NAME, SUMMARY_NAME, ExportFile
from ledger_backup.sources.aws_export import _count as count_of
from ledger_backup.sources.aws_export import _load_json as load_json
from ledger_backup.sources.aws_export import _string as string_of
from ledger_backup.sources.base import NotABackup, ReadMeter
from ledger_backup.sources.lines import EXPORT_LINES, decoded_lines
from ledger_backup.storage.stores import BackupStore
from ledger_backup.storage.streams import Checksum, Expected

INCREMENTAL_VERSION = "2023-08-01"
INCREMENTAL_TYPE = "INCREMENTAL_EXPORT"


def parse_time(text: str, what: str) -> datetime:
    """An ISO 8601 time with its offset ("Z" or "+00:00"); a time without one is ambiguous, so refused."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidRequest(f"{what} {text!r} is not an ISO 8601 time, e.g. 2026-12-04T09:30:00Z") from None
    if moment.tzinfo is None:
        raise InvalidRequest(f"{what} {text!r} has no UTC offset: write it as e.g. {text}Z for UTC")
    return moment


def micros(moment: datetime) -> int:
    """Microseconds since the epoch, the unit of WriteTimestampMicros."""
    delta = moment - datetime.fromtimestamp(0, moment.tzinfo)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


@dataclass(frozen=True)
class Change:
    """One line of an incremental export: the item's key, its new image (None: deleted), when written."""

    key: Item
    new_image: Item | None
    written_micros: int

    def key_text(self) -> str:
        return canonical_key_text(self.key, sorted(self.key))


@dataclass(frozen=True)
class IncrementalExport:
    """An incremental export, opened: its manifests checked against each other, nothing else read."""

    store: BackupStore
    key: str  # its manifest-summary.json
    from_time: datetime  # inclusive
    to_time: datetime  # exclusive
    item_count: int
    files: tuple[ExportFile, ...]

    @property
    def location(self) -> str:
        return self.store.location(self.key)

    def changes(self, meter: ReadMeter | None = None) -> Iterator[Change]:
        """Every change, file by file; each file's MD5 and line count are checked once it is read through."""
        for file in self.files:
            expected = Expected(
                item_count=file.item_count,
                checksum=Checksum.md5_base64(file.md5_base64),
                checksum_by=FILES_NAME,
                count_by=f"{FILES_NAME} lists",
            )
            yield from decoded_lines(
                self.store, file.key, expected, EXPORT_LINES, decode=_change, meter=meter
            )


def _summary_key(key: str) -> str:
    """The manifest-summary.json a key names: itself, or the one in the folder it names."""
    return key if key.endswith(SUMMARY_NAME) else key.rstrip("/") + "/" + SUMMARY_NAME


def open_incremental(store: BackupStore, key: str) -> IncrementalExport:
    """Open an incremental export from its manifest-summary.json (or its folder); check its manifests.

    Raises NotABackup for anything that is not a DynamoDB_JSON incremental export, CorruptBackup
    when its manifests disagree with each other or with their .md5 files.
    """
    summary_key = _summary_key(key)
    where = store.location(summary_key)
    if summary_key.count("/") < 2:  # <AWSDynamoDB folder>/<ExportId>/manifest-summary.json at least
        raise NotABackup(
            f"{where} is not inside an export's folder: an incremental export is read from "
            f"<export-prefix>/AWSDynamoDB/<ExportId>/{SUMMARY_NAME}, its data from AWSDynamoDB/data/"
        )
    raw_summary = store.get(summary_key)
    folder = summary_key[: -len(SUMMARY_NAME)]
    _check_md5_file(store, folder + "manifest-summary.md5", raw_summary, where)
    summary = load_json(raw_summary, f"manifest {where}")
    if not isinstance(summary, dict) or summary.get("exportType") != INCREMENTAL_TYPE:
        found = summary.get("exportType", "FULL_EXPORT") if isinstance(summary, dict) else "not a manifest"
        raise NotABackup(
            f"{where} is not an incremental export's manifest-summary.json (exportType {found}); "
            "give incremental exports, in order, after the full export"
        )
    if summary.get("outputFormat", "DYNAMODB_JSON") != "DYNAMODB_JSON":
        raise NotABackup(f"{where} is in {summary.get('outputFormat')} format; this tool reads DYNAMODB_JSON")
    if summary.get("version") != INCREMENTAL_VERSION:
        raise CorruptBackup(
            f"{where} has version {summary.get('version')!r}; incremental exports this tool reads have "
            f"version {INCREMENTAL_VERSION}"
        )
    from_time = _summary_time(summary, "exportFromTime", where)
    to_time = _summary_time(summary, "exportToTime", where)
    if to_time <= from_time:
        raise CorruptBackup(f"{where}: exportToTime {to_time} is not after exportFromTime {from_time}")
    item_count = count_of(summary.get("itemCount"), f"itemCount in {where}")
    files_at_export = string_of(summary, "manifestFilesS3Key", where)
    # Data files sit in the AWSDynamoDB/data/ folder beside the export's own folder: keys are
    # taken relative to the AWSDynamoDB/ folder, the parent of the manifests' folder.
    base_at_export = _parent(files_at_export.rpartition("/")[0])
    base = _parent(folder.rstrip("/"))
    raw_files = store.get(folder + FILES_NAME)
    _check_md5_file(store, folder + "manifest-files.md5", raw_files, store.location(folder + FILES_NAME))
    files = _files(store, folder + FILES_NAME, raw_files, base, base_at_export)
    listed = sum(f.item_count for f in files)
    if listed != item_count:
        raise CorruptBackup(
            f"the export's manifests disagree: {where} says {item_count} items but "
            f"{store.location(folder + FILES_NAME)} lists {listed} in {len(files)} files"
        )
    return IncrementalExport(store, summary_key, from_time, to_time, item_count, tuple(files))


def _parent(folder: str) -> str:
    """The folder above `folder` (no trailing slash given), with its slash; "" at the top."""
    return folder.rpartition("/")[0] + "/" if "/" in folder else ""


def _summary_time(summary: dict[str, Any], name: str, where: str) -> datetime:
    text = string_of(summary, name, where)
    try:
        return parse_time(text, f"{name} of {where}")
    except InvalidRequest as exc:
        raise CorruptBackup(str(exc)) from None


def _check_md5_file(store: BackupStore, md5_key: str, content: bytes, where: str) -> None:
    """A manifest's .md5 file, when there (a copy may leave it out), must hold the manifest's MD5.

    AWS does not document the spelling, so hex and base64 are both taken; anything else is damage.
    """
    if not store.exists(md5_key):
        return
    recorded = store.get(md5_key).decode("ascii", "replace").strip()
    digest = hashlib.md5(content, usedforsecurity=False).digest()
    if recorded.lower() not in (digest.hex(), base64.b64encode(digest).decode("ascii").lower()):
        raise CorruptBackup(
            f"{where} does not match {store.location(md5_key)} (MD5 {digest.hex()}, "
            f"recorded {recorded[:64]!r}): the manifest was changed or damaged; copy the export again"
        )


def _files(
    store: BackupStore, files_key: str, raw: bytes, base: str, base_at_export: str
) -> list[ExportFile]:
    where = store.location(files_key)
    files: list[ExportFile] = []
    for number, line in enumerate(raw.splitlines(), start=1):
        if not line.strip():
            continue
        line_where = f"{where}, line {number}"
        entry = load_json(line, f"{line_where},")
        if not isinstance(entry, dict):
            raise CorruptBackup(f"{line_where} is not a JSON object")
        key = string_of(entry, "dataFileS3Key", line_where)
        relative = key[len(base_at_export) :] if key.startswith(base_at_export) else ""
        if not relative.startswith("data/") or ".." in relative.split("/"):
            raise CorruptBackup(
                f"{line_where} names {key!r}, which is outside the exports' data folder "
                f"{base_at_export + 'data/'!r}"
            )
        files.append(
            ExportFile(
                key=base + relative,
                item_count=count_of(entry.get("itemCount"), f"itemCount in {line_where}"),
                md5_base64=string_of(entry, "md5Checksum", line_where),
            )
        )
    return files


def _change(line: bytes) -> Change:
    """One data line as a Change; ValueError (the reader names the file and line) when it is not one."""
    if not line.strip():
        raise ValueError("a blank line holds no change")
    document = fast_loads(line)
    if not isinstance(document, dict) or not isinstance(document.get("Keys"), dict) or not document["Keys"]:
        raise ValueError('not an incremental export record ({"Metadata": ..., "Keys": {...}, ...})')
    metadata = document.get("Metadata")
    stamp = metadata.get("WriteTimestampMicros") if isinstance(metadata, dict) else None
    text = stamp.get("N") if isinstance(stamp, dict) else None
    if not isinstance(text, str) or not text.isdigit():
        raise ValueError("Metadata.WriteTimestampMicros is missing or not a number")
    key = item_from_document(document["Keys"])
    new_image = document.get("NewImage")
    if new_image is None:
        return Change(key, None, int(text))
    image = item_from_document(new_image)
    for name, value in key.items():
        if image.get(name) != value:
            raise ValueError(f"NewImage's {name} differs from the record's Keys")
    return Change(key, image, int(text))
