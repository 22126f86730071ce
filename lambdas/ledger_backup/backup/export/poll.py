"""Poll the export jobs: wait while DynamoDB exports, then claim and catalog, or refuse, each one.

A claim (`claim-NNNN.json`, written only if absent and valid until that invocation's timeout) keeps
two polls from cataloging the same export at once; a catalog that pauses between files leaves a
numbered checkpoint (`checked-NNNN.json`) the next claim carries on from.
"""

import json
import logging
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from ledger_backup.backup.export.catalog import catalog_export
from ledger_backup.backup.export.jobs import (
    ExportJob,
    ExportPending,
    ExportRefused,
    PollOutcome,
    job_folder,
    list_jobs,
    never,
    parse_time,
    utc,
)
from ledger_backup.contract import DEFAULT_BACKUP_PREFIX
from ledger_backup.errors import BackupNotFound, CorruptBackup, IncompleteBackup, InvalidRequest
from ledger_backup.manifest import DataFile
from ledger_backup.storage.stores import BackupStore

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

logger = logging.getLogger(__name__)


def poll_exports(
    dynamodb: "DynamoDBClient",
    store: BackupStore,
    table_name: str,
    *,
    prefix: str = DEFAULT_BACKUP_PREFIX,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
    should_pause: Callable[[], bool] = never,
    claim_seconds: float = 15 * 60,
    invocation_id: str | None = None,
) -> list[PollOutcome]:
    """Check every export job of `table_name`; catalog the completed ones, remove failed ones.

    `claim_seconds`: how long this invocation may work on a catalog (its remaining time), so another
    poll leaves the export alone meanwhile, and takes it over afterwards if this one died.
    """
    invocation_id = invocation_id or uuid.uuid4().hex[:12]
    outcomes: list[PollOutcome] = []
    for job in list_jobs(store, prefix, table_name):
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
        return parse_time(json.loads(store.get(key)).get("until"), "claim")
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
            json.dumps({"invocation": invocation_id, "until": utc(until)}).encode(),
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
