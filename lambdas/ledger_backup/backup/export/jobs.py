"""Export jobs: the record of an export started and not cataloged yet, where it lies, and the answers.

A job lives under `<prefix>export-jobs/<table>/<ExportId>/job.json`, outside every backup folder, so
that listings and pruning never see it; the poll's claims and checkpoints sit beside it.
"""

import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from ledger_backup import layout
from ledger_backup.backup.run import BackupResult
from ledger_backup.contract import EXPORT_JOBS_FOLDER
from ledger_backup.errors import CorruptBackup
from ledger_backup.manifest import ExportSource, IncrementalManifest
from ledger_backup.schema import TableSchema
from ledger_backup.storage.stores import BackupStore

logger = logging.getLogger(__name__)

EXPORT_FOLDER = "AWSDynamoDB/"
SUMMARY_NAME = "manifest-summary.json"
VIEW_TYPE = "NEW_AND_OLD_IMAGES"
JOB_FORMAT = "ledger-backup-export-job"
JOB_NAME = "job.json"

Kind = Literal["full", "incremental"]


def never() -> bool:
    """The default `should_pause`: carry on to the end."""
    return False


def utc(moment: datetime) -> str:
    """The moment in UTC, ISO 8601: how jobs and manifests record times."""
    return moment.astimezone(UTC).isoformat()


def parse_time(value: object, what: str) -> datetime:
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


def record_job(store: BackupStore, prefix: str, job: ExportJob) -> ExportPending:
    """Write the job (only if absent) so the export-poll schedule finds the export DynamoDB now runs."""
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


def list_jobs(store: BackupStore, prefix: str, table_name: str) -> Iterator[ExportJob]:
    """The table's export jobs not cataloged yet: each one an export started and not accounted for."""
    for key in store.list_keys(jobs_folder(prefix, table_name)):
        if key.endswith(f"/{JOB_NAME}"):
            yield ExportJob.from_json_bytes(store.get(key), store.location(key))


def incremental_bases(store: BackupStore, prefix: str, table_name: str) -> list[str]:
    """The backup folders incremental exports not cataloged yet are writing into: never to be pruned.

    DynamoDB writes such an export under `<base folder>incrementals/`, so a prune of the base in the
    meantime would leave the export's objects in a folder without a manifest, and its catalog refused.
    """
    return sorted({job.base for job in list_jobs(store, prefix, table_name) if job.base is not None})
