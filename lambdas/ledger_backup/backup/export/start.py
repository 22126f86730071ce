"""Start an export: check the table's point-in-time recovery, ask DynamoDB for it, record the job."""

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from ledger_backup import layout
from ledger_backup.aws.errors import error_code
from ledger_backup.aws.tables import read_schema, require_table
from ledger_backup.backup.export.jobs import (
    VIEW_TYPE,
    ExportJob,
    ExportPending,
    IncrementalSkipped,
    list_jobs,
    record_job,
    utc,
)
from ledger_backup.catalog import Backup, survey
from ledger_backup.chain import load_chain
from ledger_backup.contract import DEFAULT_BACKUP_PREFIX
from ledger_backup.errors import CorruptBackup, InvalidRequest
from ledger_backup.manifest import FULL_EXPORT, INCREMENTAL_EXPORT, INCREMENTALS_FOLDER
from ledger_backup.storage.stores import BackupStore

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

logger = logging.getLogger(__name__)

# The window DynamoDB accepts for one incremental export.
MIN_INCREMENTAL_WINDOW = timedelta(minutes=15)
MAX_INCREMENTAL_WINDOW = timedelta(hours=24)


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


def encryption_fields(kms_key_arn: str | None) -> dict[str, str]:
    """What the request says of the export's encryption: the bucket's KMS key, named, or nothing.

    AWS does not document that an export takes the bucket's default SSE-KMS key, so with one the
    request names it; without one (SSE-S3) nothing is sent and the objects take the default.
    """
    if kms_key_arn is None:
        return {}
    return {"S3SseAlgorithm": "KMS", "S3SseKmsKeyId": kms_key_arn}


def _request_export(
    dynamodb: "DynamoDBClient",
    table_name: str,
    table_arn: str,
    *,
    bucket: str,
    folder: str,
    kind: dict[str, Any],
    kms_key_arn: str | None,
) -> str:
    """ExportTableToPointInTime of the table into `folder` as DYNAMODB_JSON, with `kind`'s fields."""
    request: dict[str, Any] = {
        "TableArn": table_arn,
        "S3Bucket": bucket,
        "S3Prefix": folder.rstrip("/"),
        "ExportFormat": "DYNAMODB_JSON",
        **kind,
        **encryption_fields(kms_key_arn),
    }
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
    kms_key_arn: str | None = None,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> ExportPending:
    """Ask DynamoDB for a full export of `table_name` into a new backup folder, and record the job.

    The export time is this moment (or the recovery log's latest, if earlier) to the whole second, so
    incremental exports can start exactly there. `kms_key_arn`: the bucket's SSE-KMS key, which the
    export is asked to write under (see `encryption_fields`).
    """
    table = require_table(dynamodb, table_name)
    latest = require_pitr(dynamodb, table_name)
    started = now()
    export_time = _exportable(started, latest)
    folder = layout.backup_folder(prefix, table_name, started)
    full = {"ExportTime": export_time, "ExportType": FULL_EXPORT}
    arn = _request_export(
        dynamodb,
        table_name,
        table["TableArn"],
        bucket=bucket,
        folder=folder,
        kind=full,
        kms_key_arn=kms_key_arn,
    )
    job = ExportJob(
        kind="full",
        table_name=table_name,
        table_arn=table["TableArn"],
        schema=read_schema(dynamodb, table),
        folder=folder,
        started_at=utc(started),
        export_arn=arn,
        export_time=utc(export_time),
    )
    return record_job(store, prefix, job)


def start_incremental_export(
    dynamodb: "DynamoDBClient",
    store: BackupStore,
    bucket: str,
    table_name: str,
    *,
    prefix: str = DEFAULT_BACKUP_PREFIX,
    kms_key_arn: str | None = None,
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
    pending = [job for job in list_jobs(store, prefix, table_name) if job.kind == "incremental"]
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
            f"the chain ends at {utc(chain_end)}, less than 15 minutes ago: "
            "DynamoDB exports no shorter window",
        )
    previous = chain.links[-1][0] if chain.links else base.folder
    sequence = len(chain.links) + 1
    folder = f"{base.folder}{INCREMENTALS_FOLDER}{layout.folder_timestamp(to_time)}/"
    incremental = {
        "ExportType": INCREMENTAL_EXPORT,
        "IncrementalExportSpecification": {
            "ExportFromTime": chain_end,
            "ExportToTime": to_time,
            "ExportViewType": VIEW_TYPE,
        },
    }
    arn = _request_export(
        dynamodb,
        table_name,
        table["TableArn"],
        bucket=bucket,
        folder=folder,
        kind=incremental,
        kms_key_arn=kms_key_arn,
    )
    job = ExportJob(
        kind="incremental",
        table_name=table_name,
        table_arn=table["TableArn"],
        schema=read_schema(dynamodb, table),
        folder=folder,
        started_at=utc(started),
        export_arn=arn,
        export_from_time=utc(chain_end),
        export_to_time=utc(to_time),
        base=base.folder,
        previous=previous,
        sequence=sequence,
    )
    return record_job(store, prefix, job)


def _newest_export_backup(store: BackupStore, prefix: str, table_name: str) -> Backup | None:
    exports = [b for b in survey(store, prefix, table_name).backups if b.manifest.consistent_at is not None]
    return max(exports, key=lambda b: (b.manifest.consistent_at, b.folder), default=None)
