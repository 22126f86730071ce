"""Restore Lambda, invoked on demand:

    aws lambda invoke --function-name <restore function> --cli-binary-format raw-in-base64-out \
        --payload '{"s3_key": "backups/<table>/<timestamp>/manifest.json",
                    "target_table": "<table>-restored"}' out.json

`s3_key` may also be "latest" (the newest complete backup of TABLE_NAME), a scan document
(`aws dynamodb scan --output json` output, plain or gzipped) or a DynamoDB export's
manifest-summary.json. Those two record no key schema: the target must exist, or the event
gives `"key_schema"`. `"dry_run": true` verifies the backup and writes nothing.
"""

from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from ledger_backup.aws.clients import dynamodb_client, s3_client
from ledger_backup.errors import CorruptBackup, IncompleteBackup, InvalidRequest
from ledger_backup.restore.journal import RestoreJournal
from ledger_backup.restore.run import (
    RestoreInProgress,
    RestoreOptions,
    RestoreResult,
    dry_run,
    resume_restore,
    start_restore,
)
from ledger_backup.schema import TableSchema, key_schema_from_json
from ledger_backup.sources import LATEST, Source, open_latest, open_source
from ledger_backup.storage.stores import S3Store
from runtime import continuation
from runtime.events import (
    ContinuationEvent,
    RestoreRequest,
    RestoreStatusEvent,
    ResumeRestoreEvent,
    parse_restore_event,
)
from runtime.observability import logger, metrics, tracer
from runtime.settings import Settings

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


def check_allowed(request: RestoreRequest, settings: Settings) -> None:
    """The function may only read its own backups and write the ledger or tables named after it."""
    if not request.target_table.startswith(settings.table_name):
        raise InvalidRequest(
            f"target_table {request.target_table!r} is not allowed: this function restores only into "
            f"{settings.table_name!r} or tables whose names start with it "
            f"(e.g. {settings.table_name}-restored)"
        )
    if request.bucket is not None and request.bucket != settings.bucket:
        raise InvalidRequest(
            f"bucket {request.bucket!r} is not allowed: this function restores only from its backup "
            f"bucket {settings.bucket!r}"
        )
    if request.s3_key == LATEST:
        return
    if not request.s3_key.startswith(settings.prefix) or ".." in request.s3_key.split("/"):
        raise InvalidRequest(f"s3_key {request.s3_key!r} is outside the backup prefix {settings.prefix!r}")


def _open(request: RestoreRequest, settings: Settings, store: S3Store) -> Source:
    if request.s3_key == LATEST:
        return open_latest(store, settings.prefix, settings.table_name)
    return open_source(store, request.s3_key)


def _key_schema(request: RestoreRequest) -> TableSchema | None:
    if request.key_schema is None:
        return None
    return key_schema_from_json([entry.model_dump() for entry in request.key_schema])


@logger.inject_lambda_context(log_event=True, clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics(capture_cold_start_metric=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Validate the request, then restore (or only verify); every refusal happens before the first write.

    A restore that would outlast the function's timeout pauses at a checkpoint, invokes this
    function again with `{"continuation": ...}` and answers `"status": "continuing"` with its
    `restore_id`; `{"restore_status": id}` reports its progress or result, `{"resume": id}`
    carries on one whose invocation died.
    """
    try:
        request = parse_restore_event(event)
        settings = Settings.from_environ()
        if isinstance(request, RestoreStatusEvent):
            metrics.add_metric(name="RestoreStatusRead", unit=MetricUnit.Count, value=1)
            return _journal(settings).status(request.restore_status)
        outcome = _run(request, settings, context)
        if isinstance(outcome, dict):
            return outcome  # a dry run's report
        if isinstance(outcome, RestoreInProgress):
            continuation.invoke_self_async(
                context, {"continuation": {"checkpoint_key": outcome.checkpoint_key}}
            )
    except Exception:
        metrics.add_metric(name="RestoreFailed", unit=MetricUnit.Count, value=1)
        logger.exception("restore failed: nothing was written unless the message says so")
        raise
    if isinstance(outcome, RestoreInProgress):
        metrics.add_metric(name="RestoreContinued", unit=MetricUnit.Count, value=1)
        return {
            "status": "continuing",
            "restore_id": outcome.restore_id,
            "target_table": outcome.target_table,
            "items_restored": outcome.items_restored,
            "expected_items": outcome.expected_items,
            "invocations": outcome.invocations,
            "progress": outcome.progress_location,
        }
    metrics.add_metric(name="RestoreSucceeded", unit=MetricUnit.Count, value=1)
    metrics.add_metric(name="ItemsRestored", unit=MetricUnit.Count, value=outcome.items_restored)
    return outcome.to_json()


def _journal(settings: Settings) -> RestoreJournal:
    """Restore progress lives in the function's own bucket, under its backup prefix."""
    return RestoreJournal(S3Store(s3_client(), settings.bucket), settings.prefix)


def _run(
    request: RestoreRequest | ContinuationEvent | ResumeRestoreEvent,
    settings: Settings,
    context: LambdaContext,
) -> RestoreResult | RestoreInProgress | dict[str, Any]:
    dynamodb = dynamodb_client(max_connections=settings.restore_writers * 2)
    journal = _journal(settings)
    should_pause = continuation.pause_condition(context, settings.continuation_margin_seconds)
    if not isinstance(request, RestoreRequest):
        if isinstance(request, ContinuationEvent):
            checkpoint_key = request.continuation.checkpoint_key
        else:
            checkpoint_key = journal.latest_checkpoint(request.resume)
        options = RestoreOptions(
            writers=settings.restore_writers, max_items_per_second=settings.max_items_per_second
        )
        return resume_restore(dynamodb, journal, checkpoint_key, options=options, should_pause=should_pause)

    check_allowed(request, settings)
    store = S3Store(s3_client(), request.bucket or settings.bucket)
    try:
        source = _open(request, settings, store)
    except (CorruptBackup, IncompleteBackup) as exc:
        if request.dry_run:  # a dry run reports a backup that fails its check; it does not fail
            return _unreadable(store.location(request.s3_key), exc)
        raise
    logger.append_keys(source=source.location, kind=str(source.kind), target_table=request.target_table)
    if request.dry_run:
        return _verified(dynamodb, source, request)
    options = RestoreOptions(
        create_table=request.create_table,
        overwrite=request.overwrite,
        writers=settings.restore_writers,
        key_schema=_key_schema(request),
        max_items_per_second=request.max_items_per_second or settings.max_items_per_second,
    )
    return start_restore(
        dynamodb, source, request.target_table, options=options, journal=journal, should_pause=should_pause
    )


def _verified(dynamodb: "DynamoDBClient", source: Source, request: RestoreRequest) -> dict[str, Any]:
    """The dry run's report: "verified", or "corrupt" with every problem found; nothing is written."""
    report = dry_run(dynamodb, source, request.target_table, _key_schema(request))
    if report.ok:
        metrics.add_metric(name="BackupVerified", unit=MetricUnit.Count, value=1)
    else:
        metrics.add_metric(name="VerifyFailed", unit=MetricUnit.Count, value=1)
        logger.error("dry run: the backup failed its check", extra={"problems": list(report.problems)})
    return {"status": "verified" if report.ok else "corrupt", "dry_run": True, **report.to_json()}


def _unreadable(location: str, error: Exception) -> dict[str, Any]:
    """The dry run's report for a backup whose own manifests already fail the check."""
    metrics.add_metric(name="VerifyFailed", unit=MetricUnit.Count, value=1)
    logger.error("dry run: the backup failed its check", extra={"problems": [str(error)]})
    return {
        "status": "corrupt",
        "dry_run": True,
        "source": location,
        "item_count": 0,
        "problems": [str(error)],
    }
