"""Catalog a completed export: check it against DynamoDB's manifests, then write this tool's record last.

Both manifests are checked against their `.md5` files; every data file manifest-files.json names
is read through, its MD5 and line count checked and its SHA-256 and sizes measured; then the full
export's `manifest.json` (or the incremental link's `incremental.json`) is written, only if absent.
"""

import base64
import hashlib
import io
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, BinaryIO

import orjson

from ledger_backup import layout
from ledger_backup.backup.export.jobs import (
    EXPORT_FOLDER,
    VIEW_TYPE,
    ExportBackupResult,
    ExportJob,
    IncrementalResult,
    Kind,
    never,
    parse_time,
    utc,
)
from ledger_backup.backup.run import backup_result
from ledger_backup.chain import load_chain
from ledger_backup.codec import decode_stored_line
from ledger_backup.errors import CorruptBackup, IncompleteBackup
from ledger_backup.manifest import (
    FULL_EXPORT,
    INCREMENTAL_EXPORT,
    INCREMENTAL_NAME,
    DataFile,
    ExportSource,
    IncrementalManifest,
    Manifest,
    chain_errors,
)
from ledger_backup.storage.stores import BackupStore
from ledger_backup.storage.streams import (
    Checksum,
    ContentStream,
    Expected,
    ObjectReader,
    check_read,
    line_too_long,
    reading,
)

logger = logging.getLogger(__name__)

FILES_NAME = "manifest-files.json"
# DynamoDB writes each manifest's MD5 beside it; AWS's guide names the files `.checksum`, exports seen in
# the wild `.md5`. Either is accepted, spelled as hex or base64.
CHECKSUM_SUFFIXES = (".md5", ".checksum")


@dataclass(frozen=True)
class ExportFileEntry:
    """One line of manifest-files.json: the data file (relative to the folder) and what it must hold."""

    key: str
    item_count: int
    md5_base64: str


def catalog_export(
    store: BackupStore,
    job: ExportJob,
    *,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
    should_pause: Callable[[], bool] = never,
    done: list[DataFile] | None = None,
) -> "ExportBackupResult | IncrementalResult | list[DataFile]":
    """Check the export in `job.folder` against its manifests and write this tool's record of it last.

    The export is read where it lies now: the keys its manifests recorded are taken relative to the
    `AWSDynamoDB/` folder, so an export copied to another prefix catalogs the same. `done` holds the
    files a paused catalog already checked (in manifest-files.json's order); a list comes back when
    this one pauses too.
    """
    summary_key = job.summary_key
    summary = _read_summary(store, summary_key, job)
    entries = _read_files_manifest(store, summary_key, summary, job)
    declared = summary["itemCount"]
    listed = sum(e.item_count for e in entries)
    if listed != declared:
        raise CorruptBackup(
            f"the export's manifests disagree: {store.location(summary_key)} says {declared} items but "
            f"{FILES_NAME} lists {listed} in {len(entries)} files"
        )
    files = list(done or [])
    for entry in entries[len(files) :]:
        if files and should_pause():
            return files
        files.append(check_data_file(store, job.folder, entry, job.kind))
    source = _source(summary, job, summary_key[len(job.folder) :])
    finished = utc(now())
    if job.kind == "full":
        return _write_manifest(store, job, files, source, finished)
    return _write_link(store, job, files, source, finished)


def _manifest_checksum(store: BackupStore, key: str, raw: bytes) -> None:
    """The manifest must match the MD5 DynamoDB wrote beside it (hex or base64, either file name)."""
    digest = hashlib.md5(raw, usedforsecurity=False).digest()
    spellings = {digest.hex(), base64.b64encode(digest).decode("ascii")}
    stem = key.removesuffix(".json")
    for suffix in CHECKSUM_SUFFIXES:
        if store.exists(stem + suffix):
            recorded = store.get(stem + suffix).decode("utf-8", "replace").strip()
            if recorded.lower() not in {s.lower() for s in spellings} and recorded not in spellings:
                raise CorruptBackup(
                    f"{store.location(key)}: checksum mismatch: {store.location(stem + suffix)} says "
                    f"{recorded[:64]!r}, the manifest's MD5 is {digest.hex()}"
                )
            return
    raise CorruptBackup(
        f"{store.location(key)} has no checksum file ({stem.rpartition('/')[2]}.md5 or .checksum): "
        "the export is not whole"
    )


def _read_summary(store: BackupStore, key: str, job: ExportJob) -> dict[str, Any]:
    where = store.location(key)
    if not store.exists(key):
        raise IncompleteBackup(
            f"DynamoDB reports export {job.export_arn} COMPLETED, but {where} does not exist: the export's "
            "files are not where this backup asked for them"
        )
    raw = store.get(key)
    _manifest_checksum(store, key, raw)
    try:
        summary = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CorruptBackup(f"{where} is not valid JSON: {exc}") from exc
    if not isinstance(summary, dict):
        raise CorruptBackup(f"{where} is not a JSON object")
    expected_type = FULL_EXPORT if job.kind == "full" else INCREMENTAL_EXPORT
    checks = {
        "exportArn": job.export_arn,
        "exportType": expected_type,
        "outputFormat": "DYNAMODB_JSON",
    }
    for name, value in checks.items():
        found = summary.get(name, FULL_EXPORT if name == "exportType" else None)
        if found != value:
            raise CorruptBackup(f"{where} has {name} {found!r}; this backup asked for {value!r}")
    count = summary.get("itemCount")
    if not isinstance(count, int) or isinstance(count, bool) or count < 0:
        raise CorruptBackup(f"{where} has itemCount {count!r}, not a count")
    if not isinstance(summary.get("manifestFilesS3Key"), str):
        raise CorruptBackup(f"{where} lacks manifestFilesS3Key")
    _check_summary_times(summary, job, where)
    return summary


def _check_summary_times(summary: dict[str, Any], job: ExportJob, where: str) -> None:
    """The summary's moment (full) or window (incremental) must be the one this backup asked for."""
    if job.kind == "full":
        exported = parse_time(summary.get("exportTime"), f"exportTime in {where}")
        if job.export_time is not None and exported != parse_time(job.export_time, "the job's export time"):
            raise CorruptBackup(f"{where} is of the table at {utc(exported)}, not {job.export_time} as asked")
    else:
        for name, asked in (("exportFromTime", job.export_from_time), ("exportToTime", job.export_to_time)):
            found_time = parse_time(summary.get(name), f"{name} in {where}")
            if found_time != parse_time(asked, f"the job's {name}"):
                raise CorruptBackup(
                    f"{where} has {name} {utc(found_time)}, not {asked} as asked: the chain would not join"
                )
        view = summary.get("outputView", VIEW_TYPE)
        if view != VIEW_TYPE:
            raise CorruptBackup(f"{where} has outputView {view!r}, not {VIEW_TYPE}")


def _read_files_manifest(
    store: BackupStore, summary_key: str, summary: dict[str, Any], job: ExportJob
) -> list[ExportFileEntry]:
    recorded_files_key: str = summary["manifestFilesS3Key"]
    root_at_export = _export_root(recorded_files_key, store.location(summary_key))
    files_key = summary_key.rpartition("/")[0] + "/" + FILES_NAME
    where = store.location(files_key)
    raw = store.get(files_key)
    _manifest_checksum(store, files_key, raw)
    entries: list[ExportFileEntry] = []
    for number, line in enumerate(raw.splitlines(), start=1):
        if not line.strip():
            continue
        line_where = f"{where}, line {number}"
        try:
            entry = json.loads(line)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise CorruptBackup(f"{line_where} is not valid JSON: {exc}") from exc
        if not isinstance(entry, dict):
            raise CorruptBackup(f"{line_where} is not a JSON object")
        key, count, md5 = entry.get("dataFileS3Key"), entry.get("itemCount"), entry.get("md5Checksum")
        if not isinstance(key, str) or not isinstance(md5, str) or not md5:
            raise CorruptBackup(f"{line_where} lacks dataFileS3Key or md5Checksum")
        if not isinstance(count, int) or isinstance(count, bool) or count < 0:
            raise CorruptBackup(f"{line_where} has itemCount {count!r}, not a count")
        if not key.startswith(root_at_export + EXPORT_FOLDER):
            raise CorruptBackup(f"{line_where} names {key!r}, outside the export's {EXPORT_FOLDER} folder")
        relative = key[len(root_at_export) :]
        if ".." in relative.split("/") or relative.endswith("/"):
            raise CorruptBackup(f"{line_where} names an invalid data file key {key!r}")
        entries.append(ExportFileEntry(relative, count, md5))
    if len({e.key for e in entries}) != len(entries):
        raise CorruptBackup(f"{where} names a data file twice")
    return entries


def _export_root(recorded_key: str, where: str) -> str:
    """The export's S3Prefix as its manifest recorded it: all before `AWSDynamoDB/<ExportId>/`."""
    head, marker, _ = recorded_key.rpartition(EXPORT_FOLDER)
    if not marker:
        raise CorruptBackup(f"{where}: manifestFilesS3Key {recorded_key!r} is not under {EXPORT_FOLDER}")
    return head


class _Sha256Tee(io.RawIOBase):
    """The object's bytes, SHA-256 hashed on the way, for this tool's manifest."""

    def __init__(self, raw: BinaryIO) -> None:
        super().__init__()
        self._raw = raw
        self.digest = hashlib.sha256()

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: "memoryview | bytearray") -> int:  # type: ignore[override]
        data = self._raw.read(len(buffer))
        buffer[: len(data)] = data
        self.digest.update(data)
        return len(data)

    def close(self) -> None:
        if not self.closed:
            self._raw.close()
        super().close()


def _change_record(line: bytes) -> None:
    """An incremental export's line: `{"Keys": {...}, ...}` with NewImage and/or OldImage maps."""
    try:
        record = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        raise ValueError(f"not valid JSON ({exc})") from None
    if not isinstance(record, dict) or not isinstance(record.get("Keys"), dict):
        raise ValueError('line is not a change record {"Keys": {...}, "NewImage"/"OldImage": {...}}')
    images = [record.get(name) for name in ("NewImage", "OldImage") if name in record]
    if not images or not all(isinstance(image, dict) for image in images):
        raise ValueError("change record has neither a NewImage nor an OldImage map")


def check_data_file(store: BackupStore, folder: str, entry: ExportFileEntry, kind: Kind) -> DataFile:
    """Read one data file through: MD5 and line count as manifest-files.json says, every line parsed.

    Returns the file as this tool's manifest lists it (SHA-256 and sizes measured on the same read).
    An empty object (DynamoDB writes one per empty partition) is a file of no items.
    """
    key = folder + entry.key
    location = store.location(key)
    expected = Expected(
        item_count=entry.item_count,
        checksum=Checksum.md5_base64(entry.md5_base64),
        checksum_by=FILES_NAME,
        count_by=f"{FILES_NAME} lists",
    )
    check: Callable[[bytes], object] = decode_stored_line if kind == "full" else _change_record
    tee = _Sha256Tee(store.open_read(key))
    reader = ObjectReader(io.BufferedReader(tee, 1024 * 1024), hashlib.md5(usedforsecurity=False))
    lines = 0
    try:
        with reading(location):
            content = ContentStream(reader)
            for piece in content.lines():
                line = piece if piece.endswith(b"\n") else content.whole_line(piece)
                if line is None:
                    raise line_too_long(location, lines + 1)
                if not line.strip():
                    continue
                try:
                    check(line)
                except ValueError as exc:
                    raise CorruptBackup(f"{location}, line {lines + 1}: {exc}") from exc
                lines += 1
            reader.drain()
            uncompressed = content.size
    finally:
        reader.close()
    check_read(location, expected, reader, lines)
    return DataFile(
        key=entry.key,
        item_count=lines,
        compressed_bytes=reader.size,
        uncompressed_bytes=uncompressed,
        sha256=tee.digest.hexdigest(),
    )


def _source(summary: dict[str, Any], job: ExportJob, summary_key: str) -> ExportSource:
    if job.kind == "full":
        exported = parse_time(summary["exportTime"], "exportTime")
        return ExportSource(job.export_arn, FULL_EXPORT, summary_key, export_time=utc(exported))
    return ExportSource(
        job.export_arn,
        INCREMENTAL_EXPORT,
        summary_key,
        export_from_time=utc(parse_time(summary["exportFromTime"], "exportFromTime")),
        export_to_time=utc(parse_time(summary["exportToTime"], "exportToTime")),
        view_type=summary.get("outputView", VIEW_TYPE),
    )


def _write_manifest(
    store: BackupStore, job: ExportJob, files: list[DataFile], source: ExportSource, finished: str
) -> ExportBackupResult:
    manifest = Manifest(
        table_name=job.table_name,
        table_arn=job.table_arn,
        schema=job.schema,
        started_at=job.started_at,
        finished_at=finished,
        total_segments=0,  # DynamoDB chose the files; no scan segments
        files=files,
        source=source,
    )
    key = layout.manifest_key(job.folder)
    try:
        store.put_new(key, manifest.to_json_bytes())
    except FileExistsError:
        logger.warning("this export was already cataloged", extra={"folder": job.folder})
        manifest = Manifest.from_json_bytes(store.get(key), store.location(key))
    seconds = parse_time(manifest.finished_at, "finished_at") - parse_time(manifest.started_at, "started_at")
    result = backup_result(store, manifest, job.folder, seconds.total_seconds(), 1)
    logger.info("export backup complete", extra={"manifest": result.location, "items": result.item_count})
    return ExportBackupResult(result, manifest.source or source)


def _write_link(
    store: BackupStore, job: ExportJob, files: list[DataFile], source: ExportSource, finished: str
) -> IncrementalResult:
    if job.base is None or job.previous is None or job.sequence is None:
        raise CorruptBackup(f"the export job of {job.export_arn} names no base, previous link or sequence")
    link = IncrementalManifest(
        table_name=job.table_name,
        table_arn=job.table_arn,
        schema=job.schema,
        base=job.base,
        previous=job.previous,
        sequence=job.sequence,
        source=source,
        started_at=job.started_at,
        finished_at=finished,
        files=files,
    )
    chain = load_chain(store, job.base)
    links = [(folder, other) for folder, other in chain.links if folder != job.folder]
    problems = chain_errors(job.base, chain.base.manifest, [*links, (job.folder, link)])
    if problems:
        raise CorruptBackup(
            f"the incremental export in {store.location(job.folder)} does not continue its chain: "
            + "; ".join(problems)
        )
    key = job.folder + INCREMENTAL_NAME
    try:
        store.put_new(key, link.to_json_bytes())
    except FileExistsError:
        link = IncrementalManifest.from_json_bytes(store.get(key), store.location(key))
    logger.info(
        "incremental export cataloged", extra={"link": store.location(key), "sequence": link.sequence}
    )
    return IncrementalResult(job.table_name, key, store.location(key), link)
