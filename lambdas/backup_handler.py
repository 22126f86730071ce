"""Backup Lambda: run daily by EventBridge (or by hand with `{}`), backs TABLE_NAME up to BACKUP_BUCKET.

A backup that would not finish before the function's timeout pauses at a checkpoint and
invokes this function again with `{"continuation": {"checkpoint_key": ..., "invocation": n}}`, up to
MAX_INVOCATIONS times in one chain (runtime/invocation.py).

With BACKUP_METHOD=export the backup is DynamoDB's export instead (ledger_backup.backup.export):
this invocation starts it and answers "continuing"; the export-poll schedule's `{"export_poll": true}`
waits for it and catalogs it; the incremental schedule's `{"incremental": true}` adds a link.
"""

from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from ledger_backup import layout
from ledger_backup.aws.clients import dynamodb_client, s3_client
from ledger_backup.backup.export import (
    ExportBackupResult,
    ExportPending,
    ExportRefused,
    IncrementalResult,
    IncrementalSkipped,
    incremental_bases,
    poll_exports,
    start_export_backup,
    start_incremental_export,
)
from ledger_backup.backup.run import (
    BackupInProgress,
    BackupLabel,
    BackupOptions,
    BackupResult,
    resume_backup,
    start_backup,
)
from ledger_backup.contract import (
    METRIC_BACKUP_BYTES,
    METRIC_BACKUP_CONTINUED,
    METRIC_BACKUP_DURATION,
    METRIC_BACKUP_FAILED,
    METRIC_BACKUP_SUCCEEDED,
    METRIC_BACKUPS_PRUNED,
    METRIC_ITEMS_BACKED_UP,
    METRIC_PRUNE_FAILED,
)
from ledger_backup.errors import CorruptBackup, InvalidRequest
from ledger_backup.interpreter import prefer_io_threads
from ledger_backup.pruning import prune
from ledger_backup.storage.stores import S3Store
from runtime import continuation, invocation, policy
from runtime.events import parse_backup_trigger
from runtime.observability import logger, metrics, tracer
from runtime.settings import Settings

prefer_io_threads()  # this module is the function's entry point: the process's setting is made here


@logger.inject_lambda_context(log_event=True, clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics(capture_cold_start_metric=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Return the backup's identity (`s3_key` is what the restore Lambda takes), or where it paused."""
    with invocation.failures_counted(
        METRIC_BACKUP_FAILED, "backup failed: no manifest was written, so this backup is not restorable"
    ):
        trigger = parse_backup_trigger(event)
        settings = Settings.from_environ()
        logger.append_keys(table=settings.table_name, trigger=trigger.description)
        if trigger.action == "export_poll":
            return _poll(settings, context)
        if trigger.action == "incremental" or (
            trigger.checkpoint_key is None and settings.backup_method == "export"
        ):
            return _start_export(trigger.action == "incremental", settings)
        outcome = _run(trigger.checkpoint_key, settings, context, trigger.label)
        if isinstance(outcome, BackupInProgress):
            chain = invocation.Chain(trigger.invocation, settings.max_invocations)
            by_hand = _by_hand(outcome)
            answer = invocation.continuing(context, outcome, METRIC_BACKUP_CONTINUED, chain, by_hand)
            return {**answer, "bucket": settings.bucket}
    invocation.count(METRIC_BACKUP_SUCCEEDED)
    invocation.count(METRIC_ITEMS_BACKED_UP, outcome.item_count)
    invocation.count(METRIC_BACKUP_BYTES, outcome.compressed_bytes, MetricUnit.Bytes)
    invocation.count(METRIC_BACKUP_DURATION, outcome.duration_seconds, MetricUnit.Seconds)
    made = [layout.folder_of(outcome.manifest_key)]
    return {**outcome.to_json(), "bucket": settings.bucket, "pruned": _prune(settings, made)}


def _prune(settings: Settings, made: list[str]) -> dict[str, Any]:
    """After a whole backup, the policy's prune; its failure is told (answer, log, PruneFailed), never raised.

    The backup is done and restorable whatever happens here: failing the invocation would count it
    as a failed backup and make Lambda retry a backup that succeeded. `made`: the folders of the
    backups just made, never pruned by the run that made them; nor is the base of an incremental
    export still running (DynamoDB writes it into that folder).
    """
    store = S3Store(s3_client(), settings.bucket)
    try:
        protected = [*made, *incremental_bases(store, settings.prefix, settings.table_name)]
        result = prune(
            store,
            settings.prefix,
            settings.table_name,
            settings.retention,
            datetime.now(UTC),
            protected=protected,
        )
    except Exception as exc:
        logger.exception("pruning after the backup failed; the backup itself is complete")
        invocation.count(METRIC_PRUNE_FAILED)
        return {"status": "failed", "problem": f"{type(exc).__name__}: {exc}"}
    invocation.count(METRIC_BACKUPS_PRUNED, len(result.deleted))
    if result.failed:
        logger.error(
            "some backups could not be pruned; the backup itself is complete",
            extra={"failed": [f.problem for f in result.failed]},
        )
        invocation.count(METRIC_PRUNE_FAILED)
    answer = result.to_json(store)
    answer.pop("backups")  # the CLI's `prune --dry-run` lists every folder; the answer stays short
    return {"status": "failed" if result.failed else "done", **answer}


def _start_export(incremental: bool, settings: Settings) -> dict[str, Any]:
    """Ask DynamoDB for the export and answer "continuing": the export-poll schedule takes it from here."""
    if settings.backup_method != "export":
        raise InvalidRequest(
            '{"incremental": true} needs backup_method export: incremental exports follow a full export '
            f"backup, and this function backs up by {settings.backup_method} (cdk.json backup_method)"
        )
    dynamodb = dynamodb_client()
    store = S3Store(s3_client(), settings.bucket)
    start = start_incremental_export if incremental else start_export_backup
    started: ExportPending | IncrementalSkipped = start(
        dynamodb,
        store,
        settings.bucket,
        settings.table_name,
        prefix=settings.prefix,
        kms_key_arn=settings.backup_kms_key_arn,
    )
    if isinstance(started, ExportPending):
        invocation.count(METRIC_BACKUP_CONTINUED)
    return {**started.to_json(), "bucket": settings.bucket}


def _poll(settings: Settings, context: LambdaContext) -> dict[str, Any]:
    """Check each running export; count the cataloged ones; fail (once per export) for a refused one.

    A full export cataloged is a backup like a scan's: the policy's prune follows, as after a scan
    (an incremental link is not a backup of its own; it is kept and pruned with its base).
    """
    outcomes = poll_exports(
        dynamodb_client(),
        S3Store(s3_client(), settings.bucket),
        settings.table_name,
        prefix=settings.prefix,
        should_pause=continuation.pause_condition(context, settings.continuation_margin_seconds),
        claim_seconds=context.get_remaining_time_in_millis() / 1000,
    )
    for outcome in outcomes:
        if isinstance(outcome, ExportBackupResult):
            invocation.count(METRIC_BACKUP_SUCCEEDED)
            invocation.count(METRIC_ITEMS_BACKED_UP, outcome.backup.item_count)
            invocation.count(METRIC_BACKUP_BYTES, outcome.backup.compressed_bytes, MetricUnit.Bytes)
            invocation.count(METRIC_BACKUP_DURATION, outcome.backup.duration_seconds, MetricUnit.Seconds)
        elif isinstance(outcome, IncrementalResult):
            invocation.count(METRIC_BACKUP_SUCCEEDED)
            invocation.count(METRIC_BACKUP_BYTES, outcome.link.compressed_bytes, MetricUnit.Bytes)
    made = [layout.folder_of(o.backup.manifest_key) for o in outcomes if isinstance(o, ExportBackupResult)]
    pruned = _prune(settings, made) if made else None  # before a refusal fails the invocation
    refused = [o for o in outcomes if isinstance(o, ExportRefused)]
    if refused:
        raise CorruptBackup(
            "; ".join(
                f"export {o.job.export_arn} into {o.location} was not cataloged: {o.problem}" for o in refused
            )
        )
    answers = [o.to_json() for o in outcomes]
    status = "idle" if not answers else "polled"
    answer: dict[str, Any] = {
        "status": status,
        "method": "export",
        "table": settings.table_name,
        "exports": answers,
        "bucket": settings.bucket,
    }
    if pruned is not None:
        answer["pruned"] = pruned
    return answer


def _by_hand(outcome: BackupInProgress) -> invocation.ByHand:
    """A backup is carried on by hand with the continuation event itself, without its number."""
    return invocation.ByHand(
        what=f"the backup of table {outcome.table_name!r}",
        progress=outcome.location,
        event={"continuation": {"checkpoint_key": outcome.checkpoint_key}},
    )


def _run(
    checkpoint_key: str | None, settings: Settings, context: LambdaContext, label: BackupLabel | None
) -> BackupResult | BackupInProgress:
    options = BackupOptions(
        total_segments=settings.scan_segments, max_items_per_second=settings.max_items_per_second
    )
    store = S3Store(s3_client(max_connections=settings.scan_segments * 2), settings.bucket)
    dynamodb = dynamodb_client(max_connections=settings.scan_segments * 2)
    should_pause = continuation.pause_condition(context, settings.continuation_margin_seconds)
    if checkpoint_key is None:
        return start_backup(
            dynamodb,
            store,
            settings.table_name,
            prefix=settings.prefix,
            options=options,
            should_pause=should_pause,
            label=label,
        )
    policy.check_backup_checkpoint(checkpoint_key, settings)
    return resume_backup(
        dynamodb,
        store,
        checkpoint_key,
        options=options,
        should_pause=should_pause,
        table_name=settings.table_name,
    )
