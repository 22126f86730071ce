"""Backup Lambda: run daily by EventBridge (or by hand with `{}`), backs TABLE_NAME up to BACKUP_BUCKET.

A backup that would not finish before the function's timeout pauses at a checkpoint and
invokes this function again with `{"continuation": {"checkpoint_key": ...}}`, as often as needed.
"""

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from ledger_backup.aws.clients import dynamodb_client, s3_client
from ledger_backup.backup.run import (
    BackupInProgress,
    BackupOptions,
    BackupResult,
    resume_backup,
    start_backup,
)
from ledger_backup.errors import InvalidRequest
from ledger_backup.storage.stores import S3Store
from runtime import continuation
from runtime.events import parse_backup_trigger
from runtime.observability import logger, metrics, tracer
from runtime.settings import Settings


@logger.inject_lambda_context(log_event=True, clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics(capture_cold_start_metric=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Return the backup's identity (`s3_key` is what the restore Lambda takes), or where it paused."""
    try:
        trigger = parse_backup_trigger(event)
        settings = Settings.from_environ()
        logger.append_keys(table=settings.table_name, trigger=trigger.description)
        outcome = _run(trigger.checkpoint_key, settings, context)
        if isinstance(outcome, BackupInProgress):
            continuation.invoke_self_async(
                context, {"continuation": {"checkpoint_key": outcome.checkpoint_key}}
            )
    except Exception:
        metrics.add_metric(name="BackupFailed", unit=MetricUnit.Count, value=1)
        logger.exception("backup failed: no manifest was written, so this backup is not restorable")
        raise
    if isinstance(outcome, BackupInProgress):
        metrics.add_metric(name="BackupContinued", unit=MetricUnit.Count, value=1)
        return {
            "status": "continuing",
            "table": settings.table_name,
            "bucket": settings.bucket,
            "checkpoint_key": outcome.checkpoint_key,
            "items_so_far": outcome.items_so_far,
            "invocations": outcome.invocations,
        }
    return _complete(outcome, settings)


def _run(
    checkpoint_key: str | None, settings: Settings, context: LambdaContext
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
        )
    if not checkpoint_key.startswith(f"{settings.prefix}{settings.table_name}/") or ".." in checkpoint_key:
        raise InvalidRequest(f"checkpoint {checkpoint_key!r} is not one of this table's backups")
    return resume_backup(dynamodb, store, checkpoint_key, options=options, should_pause=should_pause)


def _complete(result: BackupResult, settings: Settings) -> dict[str, Any]:
    metrics.add_metric(name="BackupSucceeded", unit=MetricUnit.Count, value=1)
    metrics.add_metric(name="ItemsBackedUp", unit=MetricUnit.Count, value=result.item_count)
    metrics.add_metric(name="BackupBytes", unit=MetricUnit.Bytes, value=result.compressed_bytes)
    metrics.add_metric(name="BackupDuration", unit=MetricUnit.Seconds, value=result.duration_seconds)
    return {
        "status": "complete",
        "table": settings.table_name,
        "bucket": settings.bucket,
        "s3_key": result.manifest_key,
        "item_count": result.item_count,
        "compressed_bytes": result.compressed_bytes,
        "uncompressed_bytes": result.uncompressed_bytes,
        "files": result.file_count,
        "invocations": result.invocations,
        "started_at": result.started_at,
        "finished_at": result.finished_at,
        "duration_seconds": result.duration_seconds,
    }
