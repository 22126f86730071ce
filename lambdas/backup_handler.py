"""Backup Lambda: run daily by EventBridge (or by hand with `{}`), backs TABLE_NAME up to BACKUP_BUCKET."""

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from runtime.events import parse_backup_trigger
from runtime.observability import logger, metrics, tracer
from runtime.settings import Settings

from ledger_backup.backup import BackupOptions, run_backup
from ledger_backup.clients import dynamodb_client, s3_client
from ledger_backup.stores import S3Store


@logger.inject_lambda_context(log_event=True, clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics(capture_cold_start_metric=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Return the backup's identity (`s3_key` is what the restore Lambda takes) and its size."""
    try:
        trigger = parse_backup_trigger(event)
        settings = Settings.from_environ()
        logger.append_keys(table=settings.table_name, trigger=trigger)
        options = BackupOptions(total_segments=settings.scan_segments)
        store = S3Store(s3_client(max_connections=settings.scan_segments * 2), settings.bucket)
        result = run_backup(
            dynamodb_client(max_connections=settings.scan_segments * 2),
            store,
            settings.table_name,
            prefix=settings.prefix,
            options=options,
        )
    except Exception:
        metrics.add_metric(name="BackupFailed", unit=MetricUnit.Count, value=1)
        logger.exception("backup failed: no manifest was written, so this backup is not restorable")
        raise
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
        "started_at": result.started_at,
        "finished_at": result.finished_at,
        "duration_seconds": result.duration_seconds,
    }
