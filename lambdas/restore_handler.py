"""Restore Lambda, invoked on demand:

    aws lambda invoke --function-name <restore function> --cli-binary-format raw-in-base64-out \
        --payload '{"s3_key": "backups/<table>/<timestamp>/manifest.json",
                    "target_table": "<table>-restored"}' out.json
"""

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from runtime.events import RestoreRequest, parse_event
from runtime.observability import logger, metrics, tracer
from runtime.settings import Settings

from ledger_backup.clients import dynamodb_client, s3_client
from ledger_backup.errors import InvalidRequest
from ledger_backup.restore import RestoreOptions, run_restore
from ledger_backup.stores import S3Store


def check_allowed(request: RestoreRequest, settings: Settings) -> None:
    """The function may only read its own backups and write the ledger or tables named after it."""
    if not request.target_table.startswith(settings.table_name):
        raise InvalidRequest(
            f"target_table {request.target_table!r} is not allowed: this function restores only into "
            f"{settings.table_name!r} or tables whose names start with it "
            f"(e.g. {settings.table_name}-restored)"
        )
    if not request.s3_key.startswith(settings.prefix) or ".." in request.s3_key.split("/"):
        raise InvalidRequest(f"s3_key {request.s3_key!r} is outside the backup prefix {settings.prefix!r}")


@logger.inject_lambda_context(log_event=True, clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics(capture_cold_start_metric=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Validate the request, then restore; every refusal happens before the first write."""
    try:
        request = parse_event(event, RestoreRequest)
        settings = Settings.from_environ()
        check_allowed(request, settings)
        bucket = request.bucket or settings.bucket
        logger.append_keys(source=f"s3://{bucket}/{request.s3_key}", target_table=request.target_table)
        options = RestoreOptions(
            create_table=request.create_table, overwrite=request.overwrite, writers=settings.restore_writers
        )
        result = run_restore(
            dynamodb_client(max_connections=settings.restore_writers * 2),
            S3Store(s3_client(), bucket),
            request.s3_key,
            request.target_table,
            options=options,
        )
    except Exception:
        metrics.add_metric(name="RestoreFailed", unit=MetricUnit.Count, value=1)
        logger.exception("restore failed: nothing was written unless the message says so")
        raise
    metrics.add_metric(name="RestoreSucceeded", unit=MetricUnit.Count, value=1)
    metrics.add_metric(name="ItemsRestored", unit=MetricUnit.Count, value=result.items_restored)
    return {
        "status": "complete",
        "source": result.source,
        "target_table": result.target_table,
        "table_created": result.table_created,
        "items_restored": result.items_restored,
        "files": result.files,
        "duration_seconds": result.duration_seconds,
    }
