"""Back up a table with DynamoDB's own export: start it, wait for it across invocations, catalog it.

An export (ExportTableToPointInTime) is consistent to one moment and reads none of the table's
capacity, but it takes minutes to hours and DynamoDB does the writing. So a backup of this kind
is three steps, each in its own invocation:

1. `start_export_backup` (or `start_incremental_export`) asks DynamoDB for the export into the
   backup folder and records a *job* under `<prefix>export-jobs/<table>/<ExportId>/job.json`.
2. `poll_exports`, run by a fixed schedule every few minutes (infra: the export-poll rule), reads
   each job's DescribeExport; while the export runs it answers "continuing" and does nothing else.
3. Once COMPLETED, the same poll catalogs it: both manifests checked against their `.md5` files,
   every data file read through, its MD5 and line count checked against manifest-files.json, and
   its SHA-256 and sizes measured; then this tool's `manifest.json` (or an incremental link's
   `incremental.json`, see ledger_backup.manifest) is written last, and the job removed.

Only the files DynamoDB's manifest-files.json names are read (never a listing of the export's
`data/` folder, which incremental exports share). Cataloging a large export can outlast one
invocation: it pauses between files at a numbered checkpoint (`checked-NNNN.json`), and a claim
(`claim-NNNN.json`, written only if absent and valid until that invocation's timeout) keeps two
polls from cataloging the same export at once.
"""

import base64
import hashlib
import io
import json
import logging
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, BinaryIO, Literal

import orjson
from botocore.exceptions import ClientError

from ledger_backup import layout
from ledger_backup.aws.errors import error_code
from ledger_backup.aws.tables import read_schema, require_table
from ledger_backup.backup.run import BackupResult
from ledger_backup.catalog import Backup, survey
from ledger_backup.chain import load_chain
from ledger_backup.codec import decode_stored_line
from ledger_backup.contract import DEFAULT_BACKUP_PREFIX, EXPORT_JOBS_FOLDER
from ledger_backup.errors import BackupNotFound, CorruptBackup, IncompleteBackup, InvalidRequest
from ledger_backup.manifest import (
    FULL_EXPORT,
    INCREMENTAL_EXPORT,
    INCREMENTAL_NAME,
    INCREMENTALS_FOLDER,
    DataFile,
    ExportSource,
    IncrementalManifest,
    Manifest,
    chain_errors,
)
from ledger_backup.schema import TableSchema
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

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

logger = logging.getLogger(__name__)

EXPORT_FOLDER = "AWSDynamoDB/"
SUMMARY_NAME = "manifest-summary.json"
FILES_NAME = "manifest-files.json"
# DynamoDB writes each manifest's MD5 beside it; AWS's guide names the files `.checksum`, exports seen in
# the wild `.md5`. Either is accepted, spelled as hex or base64.
CHECKSUM_SUFFIXES = (".md5", ".checksum")
VIEW_TYPE = "NEW_AND_OLD_IMAGES"
# The window DynamoDB accepts for one incremental export.
MIN_INCREMENTAL_WINDOW = timedelta(minutes=15)
MAX_INCREMENTAL_WINDOW = timedelta(hours=24)
JOB_FORMAT = "ledger-backup-export-job"
JOB_NAME = "job.json"

Kind = Literal["full", "incremental"]


def _never() -> bool:
    return False


def _utc(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


def _parse_time(value: object, what: str) -> datetime:
    """A summary's or job's time: ISO 8601 ("...Z" included); without a zone, UTC."""
    if not isinstance(value, str):
        raise CorruptBackup(f"{what} is {value!r}, not a time")
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise CorruptBackup(f"{what} is {value!r}, not an ISO 8601 time") from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


@dataclass(frozen=True)
class ExportJob:
    """An export this tool started and has not cataloged yet, and what its catalog must find."""

    kind: Kind
    table_name: str
    table_arn: str
    schema: TableSchema
    folder: str  # the export's S3Prefix plus "/": the backup folder, or the incremental link's folder
    started_at: str
    export_arn: str
    export_time: str | None = None  # full: the moment requested
    export_from_time: str | None = None  # incremental: the window requested
    export_to_time: str | None = None
    base: str | None = None  # incremental: the full export backup's folder
    previous: str | None = None  # incremental: the link before (the base for the first)
    sequence: int | None = None

    @property
    def export_id(self) -> str:
        return self.export_arn.rpartition("/")[2]

    @property
    def summary_key(self) -> str:
        """Where AWS's documented layout puts the export's summary: <S3Prefix>/AWSDynamoDB/<ExportId>/."""
        return f"{self.folder}{EXPORT_FOLDER}{self.export_id}/{SUMMARY_NAME}"

    def to_json_bytes(self) -> bytes:
        document = {
            "format": JOB_FORMAT,
            "kind": self.kind,
            "table": {"name": self.table_name, "arn": self.table_arn},
            "schema": self.schema.to_json(),
            "folder": self.folder,
            "started_at": self.started_at,
            "export_arn": self.export_arn,
            "export_time": self.export_time,
            "export_from_time": self.export_from_time,
            "export_to_time": self.export_to_time,
            "base": self.base,
            "previous": self.previous,
            "sequence": self.sequence,
        }
        return json.dumps(document, ensure_ascii=False).encode("utf-8")

    @classmethod
    def from_json_bytes(cls, raw: bytes, where: str) -> "ExportJob":
        try:
            document = json.loads(raw)
            if document.get("format") != JOB_FORMAT or document.get("kind") not in ("full", "incremental"):
                raise ValueError("not a ledger-backup export job")
            return cls(
                kind=document["kind"],
                table_name=str(document["table"]["name"]),
                table_arn=str(document["table"]["arn"]),
                schema=TableSchema.from_json(document["schema"]),
                folder=str(document["folder"]),
                started_at=str(document["started_at"]),
                export_arn=str(document["export_arn"]),
                export_time=document.get("export_time"),
                export_from_time=document.get("export_from_time"),
                export_to_time=document.get("export_to_time"),
                base=document.get("base"),
                previous=document.get("previous"),
                sequence=document.get("sequence"),
            )
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise CorruptBackup(f"export job {where} is unreadable: {exc}") from exc


def jobs_folder(prefix: str, table_name: str) -> str:
    """`<prefix>export-jobs/<table>/`: outside every backup folder, so listings and pruning never see it."""
    return f"{layout.normalize_prefix(prefix)}{EXPORT_JOBS_FOLDER}{table_name}/"


def job_folder(prefix: str, table_name: str, export_id: str) -> str:
    return f"{jobs_folder(prefix, table_name)}{export_id}/"


@dataclass(frozen=True)
class ExportPending:
    """An export that is running or being cataloged: the answer is "continuing", the schedule polls again."""

    job: ExportJob
    location: str
    export_status: str  # IN_PROGRESS, or COMPLETED while the catalog is under way
    detail: str
    files_checked: int = 0

    def to_json(self) -> dict[str, Any]:
        document: dict[str, Any] = {
            "status": "continuing",
            "method": "export",
            "kind": self.job.kind,
            "table": self.job.table_name,
            "export_arn": self.job.export_arn,
            "export_status": self.export_status,
            "location": self.location,
            "detail": self.detail,
        }
        if self.job.kind == "full":
            document["export_time"] = self.job.export_time
        else:
            document.update(
                base=self.job.base,
                sequence=self.job.sequence,
                export_from_time=self.job.export_from_time,
                export_to_time=self.job.export_to_time,
            )
        if self.files_checked:
            document["files_checked"] = self.files_checked
        return document


@dataclass(frozen=True)
class ExportBackupResult:
    """A full export cataloged: a complete backup, with the export it came from."""

    backup: BackupResult
    source: ExportSource

    def to_json(self) -> dict[str, Any]:
        return {
            **self.backup.to_json(),
            "method": "export",
            "kind": "full",
            "export_arn": self.source.export_arn,
            "export_time": self.source.export_time,
        }


@dataclass(frozen=True)
class IncrementalResult:
    """An incremental export cataloged as the next link of its base's chain."""

    table_name: str
    key: str
    location: str
    link: IncrementalManifest

    def to_json(self) -> dict[str, Any]:
        return {
            "status": "complete",
            "method": "export",
            "kind": "incremental",
            "table": self.table_name,
            "s3_key": self.key,
            "location": self.location,
            "base": self.link.base,
            "sequence": self.link.sequence,
            "export_arn": self.link.source.export_arn,
            "export_from_time": self.link.source.export_from_time,
            "export_to_time": self.link.source.export_to_time,
            "change_records": self.link.item_count,
            "compressed_bytes": self.link.compressed_bytes,
            "files": len(self.link.files),
            "started_at": self.link.started_at,
            "finished_at": self.link.finished_at,
        }


@dataclass(frozen=True)
class IncrementalSkipped:
    """No incremental export was started, and why: nothing is wrong, the next schedule tries again."""

    table_name: str
    reason: str

    def to_json(self) -> dict[str, Any]:
        return {
            "status": "skipped",
            "method": "export",
            "kind": "incremental",
            "table": self.table_name,
            "reason": self.reason,
        }


@dataclass(frozen=True)
class ExportRefused:
    """An export that failed or whose files its manifests contradict: never cataloged, its job removed."""

    job: ExportJob
    location: str
    problem: str

    def to_json(self) -> dict[str, Any]:
        return {
            "status": "failed",
            "method": "export",
            "kind": self.job.kind,
            "table": self.job.table_name,
            "export_arn": self.job.export_arn,
            "location": self.location,
            "problem": self.problem,
        }


PollOutcome = ExportPending | ExportBackupResult | IncrementalResult | ExportRefused


# ---------------------------------------------------------------------------------------------- start


def require_pitr(dynamodb: "DynamoDBClient", table_name: str) -> datetime | None:
    """Exports read the table's point-in-time recovery log: refuse, saying how to turn it on, without it.

    Returns the latest moment that log can export (LatestRestorableDateTime, a few minutes behind
    now on AWS), when DynamoDB tells it: an export asked for a later moment would be refused.
    """
    description = dynamodb.describe_continuous_backups(TableName=table_name)["ContinuousBackupsDescription"]
    recovery = description.get("PointInTimeRecoveryDescription", {})
    status = recovery.get("PointInTimeRecoveryStatus")
    if status != "ENABLED":
        raise InvalidRequest(
            f"table {table_name!r} has point-in-time recovery {status or 'DISABLED'}, and backup_method "
            "export needs it (DynamoDB exports from its recovery log). Turn it on with `aws dynamodb "
            f"update-continuous-backups --table-name {table_name} --point-in-time-recovery-specification "
            "PointInTimeRecoveryEnabled=true` (it bills by table size), or set backup_method scan for this "
            "environment in cdk.json"
        )
    latest = recovery.get("LatestRestorableDateTime")
    return latest if isinstance(latest, datetime) else None


def _exportable(moment: datetime, latest: datetime | None) -> datetime:
    """The moment, no later than the recovery log reaches, to the whole second (so chains join exactly)."""
    return (moment if latest is None else min(moment, latest)).astimezone(UTC).replace(microsecond=0)


def _request_export(dynamodb: "DynamoDBClient", request: dict[str, Any], table_name: str) -> str:
    try:
        response = dynamodb.export_table_to_point_in_time(**request)
    except ClientError as exc:
        if error_code(exc) == "PointInTimeRecoveryUnavailableException":
            require_pitr(dynamodb, table_name)  # names the fix; PITR may have been turned off since
        raise
    return response["ExportDescription"]["ExportArn"]


def start_export_backup(
    dynamodb: "DynamoDBClient",
    store: BackupStore,
    bucket: str,
    table_name: str,
    *,
    prefix: str = DEFAULT_BACKUP_PREFIX,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> ExportPending:
    """Ask DynamoDB for a full export of `table_name` into a new backup folder, and record the job.

    The export time is this moment (or the recovery log's latest, if earlier) to the whole second, so
    incremental exports can start exactly there.
    No S3SseAlgorithm is sent: the objects take the bucket's default encryption, as the scan's do.
    """
    table = require_table(dynamodb, table_name)
    latest = require_pitr(dynamodb, table_name)
    started = now()
    export_time = _exportable(started, latest)
    folder = layout.backup_folder(prefix, table_name, started)
    arn = _request_export(
        dynamodb,
        {
            "TableArn": table["TableArn"],
            "ExportTime": export_time,
            "S3Bucket": bucket,
            "S3Prefix": folder.rstrip("/"),
            "ExportFormat": "DYNAMODB_JSON",
            "ExportType": FULL_EXPORT,
        },
        table_name,
    )
    job = ExportJob(
        kind="full",
        table_name=table_name,
        table_arn=table["TableArn"],
        schema=read_schema(dynamodb, table),
        folder=folder,
        started_at=_utc(started),
        export_arn=arn,
        export_time=_utc(export_time),
    )
    return _record(store, prefix, job)


def start_incremental_export(
    dynamodb: "DynamoDBClient",
    store: BackupStore,
    bucket: str,
    table_name: str,
    *,
    prefix: str = DEFAULT_BACKUP_PREFIX,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> ExportPending | IncrementalSkipped:
    """Export the changes since the newest export backup's chain ends, as that chain's next link.

    Skipped (not failed) while there is no full export backup yet, while the previous link is still
    running, or when less than 15 minutes passed since the chain's end; a chain more than 24 hours
    behind is caught up 24 hours at a time.
    """
    table = require_table(dynamodb, table_name)
    latest = require_pitr(dynamodb, table_name)
    started = now()
    pending = [job for job in _jobs(store, prefix, table_name) if job.kind == "incremental"]
    if pending:
        return IncrementalSkipped(
            table_name, f"the incremental export {pending[0].export_arn} is not cataloged yet; it goes first"
        )
    base = _newest_export_backup(store, prefix, table_name)
    if base is None:
        return IncrementalSkipped(
            table_name, "no full export backup of this table yet: incremental exports start from one"
        )
    chain = load_chain(store, base.folder)
    if chain.problems:
        raise CorruptBackup(
            f"the incremental chain of {store.location(base.folder)} is broken, so no link is added to it: "
            + "; ".join(chain.problems)
            + ". The next full export backup starts a new chain."
        )
    chain_end = chain.end
    to_time = _exportable(min(started, chain_end + MAX_INCREMENTAL_WINDOW), latest)
    if to_time - chain_end < MIN_INCREMENTAL_WINDOW:
        return IncrementalSkipped(
            table_name,
            f"the chain ends at {_utc(chain_end)}, less than 15 minutes ago: "
            "DynamoDB exports no shorter window",
        )
    previous = chain.links[-1][0] if chain.links else base.folder
    sequence = len(chain.links) + 1
    folder = f"{base.folder}{INCREMENTALS_FOLDER}{layout.folder_timestamp(to_time)}/"
    arn = _request_export(
        dynamodb,
        {
            "TableArn": table["TableArn"],
            "S3Bucket": bucket,
            "S3Prefix": folder.rstrip("/"),
            "ExportFormat": "DYNAMODB_JSON",
            "ExportType": INCREMENTAL_EXPORT,
            "IncrementalExportSpecification": {
                "ExportFromTime": chain_end,
                "ExportToTime": to_time,
                "ExportViewType": VIEW_TYPE,
            },
        },
        table_name,
    )
    job = ExportJob(
        kind="incremental",
        table_name=table_name,
        table_arn=table["TableArn"],
        schema=read_schema(dynamodb, table),
        folder=folder,
        started_at=_utc(started),
        export_arn=arn,
        export_from_time=_utc(chain_end),
        export_to_time=_utc(to_time),
        base=base.folder,
        previous=previous,
        sequence=sequence,
    )
    return _record(store, prefix, job)


def _record(store: BackupStore, prefix: str, job: ExportJob) -> ExportPending:
    key = job_folder(prefix, job.table_name, job.export_id) + JOB_NAME
    store.put_new(key, job.to_json_bytes())
    logger.info(
        "export started",
        extra={"kind": job.kind, "export_arn": job.export_arn, "folder": store.location(job.folder)},
    )
    return ExportPending(
        job,
        store.location(job.folder),
        "IN_PROGRESS",
        "DynamoDB is exporting; the export-poll schedule checks it",
    )


def _newest_export_backup(store: BackupStore, prefix: str, table_name: str) -> Backup | None:
    exports = [b for b in survey(store, prefix, table_name).backups if b.manifest.consistent_at is not None]
    return max(exports, key=lambda b: (b.manifest.consistent_at, b.folder), default=None)


def _jobs(store: BackupStore, prefix: str, table_name: str) -> Iterator[ExportJob]:
    for key in store.list_keys(jobs_folder(prefix, table_name)):
        if key.endswith(f"/{JOB_NAME}"):
            yield ExportJob.from_json_bytes(store.get(key), store.location(key))


# ----------------------------------------------------------------------------------------------- poll


def poll_exports(
    dynamodb: "DynamoDBClient",
    store: BackupStore,
    table_name: str,
    *,
    prefix: str = DEFAULT_BACKUP_PREFIX,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
    should_pause: Callable[[], bool] = _never,
    claim_seconds: float = 15 * 60,
    invocation_id: str | None = None,
) -> list[PollOutcome]:
    """Check every export job of `table_name`; catalog the completed ones, remove failed ones.

    `claim_seconds`: how long this invocation may work on a catalog (its remaining time), so another
    poll leaves the export alone meanwhile, and takes it over afterwards if this one died.
    """
    invocation_id = invocation_id or uuid.uuid4().hex[:12]
    outcomes: list[PollOutcome] = []
    for job in _jobs(store, prefix, table_name):
        if job.table_name != table_name:
            raise InvalidRequest(
                f"export job of {job.export_arn} is of table {job.table_name!r}, not {table_name!r}"
            )
        location = store.location(job.folder)
        description = dynamodb.describe_export(ExportArn=job.export_arn)["ExportDescription"]
        status = description.get("ExportStatus", "")
        if status == "IN_PROGRESS":
            outcomes.append(ExportPending(job, location, status, "DynamoDB is still exporting"))
            continue
        if status != "COMPLETED":
            problem = (
                f"DynamoDB's export {job.export_arn} ended {status}: {description.get('FailureCode')}: "
                f"{description.get('FailureMessage')}; {location} holds no backup (no manifest is written)"
            )
            outcomes.append(_refuse(store, prefix, job, location, problem))
            continue
        try:
            outcomes.append(
                _catalog_job(
                    store,
                    prefix,
                    job,
                    now=now,
                    should_pause=should_pause,
                    claim_seconds=claim_seconds,
                    invocation_id=invocation_id,
                )
            )
        except (CorruptBackup, IncompleteBackup, BackupNotFound) as exc:
            outcomes.append(_refuse(store, prefix, job, location, str(exc)))
        if should_pause():
            break
    return outcomes


def _refuse(store: BackupStore, prefix: str, job: ExportJob, location: str, problem: str) -> ExportRefused:
    """The job is removed so the failure is reported once; the export's objects stay, never listed."""
    logger.error("export not cataloged", extra={"export_arn": job.export_arn, "problem": problem})
    folder = job_folder(prefix, job.table_name, job.export_id)
    store.delete(list(store.list_keys(folder)))
    return ExportRefused(job, location, problem)


def _numbered(keys: list[str], stem: str) -> dict[int, str]:
    found: dict[int, str] = {}
    for key in keys:
        name = key.rpartition("/")[2]
        if name.startswith(f"{stem}-") and name.endswith(".json"):
            number = name[len(stem) + 1 : -len(".json")]
            if number.isdigit():
                found[int(number)] = key
    return found


def _claimed_until(store: BackupStore, key: str) -> datetime:
    """Until when a claim holds; an unreadable one (a write cut short) holds no more: it is taken over."""
    try:
        return _parse_time(json.loads(store.get(key)).get("until"), "claim")
    except (CorruptBackup, ValueError, AttributeError):
        logger.warning("an unreadable claim is taken over", extra={"claim": store.location(key)})
        return datetime.min.replace(tzinfo=UTC)


def _catalog_job(
    store: BackupStore,
    prefix: str,
    job: ExportJob,
    *,
    now: Callable[[], datetime],
    should_pause: Callable[[], bool],
    claim_seconds: float,
    invocation_id: str,
) -> PollOutcome:
    """Claim the job, carry on from its last checkpoint, and catalog it or pause at a new checkpoint."""
    folder = job_folder(prefix, job.table_name, job.export_id)
    location = store.location(job.folder)
    keys = list(store.list_keys(folder))
    claims, checked = _numbered(keys, "claim"), _numbered(keys, "checked")
    last = max(claims, default=0)
    if last and last not in checked and _claimed_until(store, claims[last]) > now():
        return ExportPending(job, location, "COMPLETED", "another invocation is cataloging this export")
    number = last + 1
    until = now() + timedelta(seconds=claim_seconds)
    try:
        store.put_new(
            f"{folder}claim-{number:04d}.json",
            json.dumps({"invocation": invocation_id, "until": _utc(until)}).encode(),
        )
    except FileExistsError:
        return ExportPending(job, location, "COMPLETED", "another invocation is cataloging this export")
    done: list[DataFile] = []
    if checked:
        document = json.loads(store.get(checked[max(checked)]))
        done = [DataFile.from_json(f) for f in document["files"]]
    outcome = catalog_export(store, job, now=now, should_pause=should_pause, done=done)
    if isinstance(outcome, list):
        store.put_new(
            f"{folder}checked-{number:04d}.json",
            json.dumps({"files": [f.to_json() for f in outcome]}).encode(),
        )
        return ExportPending(
            job,
            location,
            "COMPLETED",
            "cataloging: paused between files, the next poll carries on",
            files_checked=len(outcome),
        )
    store.delete(list(store.list_keys(folder)))
    return outcome


# -------------------------------------------------------------------------------------------- catalog


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
    should_pause: Callable[[], bool] = _never,
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
    finished = _utc(now())
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
        exported = _parse_time(summary.get("exportTime"), f"exportTime in {where}")
        if job.export_time is not None and exported != _parse_time(job.export_time, "the job's export time"):
            raise CorruptBackup(
                f"{where} is of the table at {_utc(exported)}, not {job.export_time} as asked"
            )
    else:
        for name, asked in (("exportFromTime", job.export_from_time), ("exportToTime", job.export_to_time)):
            found_time = _parse_time(summary.get(name), f"{name} in {where}")
            if found_time != _parse_time(asked, f"the job's {name}"):
                raise CorruptBackup(
                    f"{where} has {name} {_utc(found_time)}, not {asked} as asked: the chain would not join"
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
        exported = _parse_time(summary["exportTime"], "exportTime")
        return ExportSource(job.export_arn, FULL_EXPORT, summary_key, export_time=_utc(exported))
    return ExportSource(
        job.export_arn,
        INCREMENTAL_EXPORT,
        summary_key,
        export_from_time=_utc(_parse_time(summary["exportFromTime"], "exportFromTime")),
        export_to_time=_utc(_parse_time(summary["exportToTime"], "exportToTime")),
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
    seconds = _parse_time(manifest.finished_at, "finished_at") - _parse_time(
        manifest.started_at, "started_at"
    )
    result = BackupResult(
        table_name=manifest.table_name,
        manifest_key=key,
        location=store.location(key),
        item_count=manifest.item_count,
        compressed_bytes=manifest.compressed_bytes,
        uncompressed_bytes=manifest.uncompressed_bytes,
        file_count=len(manifest.files),
        started_at=manifest.started_at,
        finished_at=manifest.finished_at,
        duration_seconds=round(seconds.total_seconds(), 3),
        invocations=1,
    )
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
