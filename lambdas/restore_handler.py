"""Restore Lambda, invoked on demand:

    aws lambda invoke --function-name <restore function> --cli-binary-format raw-in-base64-out \
        --payload '{"s3_key": "backups/<table>/<timestamp>/manifest.json",
                    "target_table": "<table>-restored"}' out.json

`s3_key` may also be "latest" (the newest complete backup of TABLE_NAME), a scan document
(`aws dynamodb scan --output json` output, plain or gzipped) or a DynamoDB export's
manifest-summary.json. Those two record no key schema: the target must exist, or the event
gives `"key_schema"`. `"dry_run": true` verifies the backup and writes nothing.
"""

from dataclasses import replace
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from ledger_backup.aws.clients import dynamodb_client, s3_client
from ledger_backup.contract import (
    METRIC_BACKUP_VERIFIED,
    METRIC_ITEMS_RESTORED,
    METRIC_RESTORE_CONTINUED,
    METRIC_RESTORE_FAILED,
    METRIC_RESTORE_STATUS_READ,
    METRIC_RESTORE_SUCCEEDED,
    METRIC_VERIFY_FAILED,
)
from ledger_backup.errors import BackupNotFound, CorruptBackup, IncompleteBackup
from ledger_backup.restore.journal import RestoreJournal
from ledger_backup.restore.plan import StoredReport, report_key
from ledger_backup.restore.run import (
    DryRunReport,
    RestoreInProgress,
    RestoreResult,
    dry_run,
    read_keys_file,
    resume_restore,
    start_restore,
)
from ledger_backup.sources import LATEST, Source, open_latest
from ledger_backup.sources.chain import open_source_chain
from ledger_backup.storage.stores import S3Store
from runtime import continuation, invocation, policy
from runtime.events import (
    ContinuationEvent,
    RestoreRequest,
    RestoreStatusEvent,
    chain_invocation,
    parse_restore_event,
)
from runtime.observability import logger, metrics, tracer
from runtime.settings import Settings

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

    from ledger_backup.restore.run import RestoreOptions
    from runtime.events import ResumeRestoreEvent


@logger.inject_lambda_context(log_event=True, clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics(capture_cold_start_metric=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Validate the request, then restore (or only verify); every refusal happens before the first write.

    A restore that would outlast the function's timeout pauses at a checkpoint, invokes this
    function again with `{"continuation": ...}` (up to MAX_INVOCATIONS times in one chain) and
    answers `"status": "continuing"` with its `restore_id`; `{"restore_status": id}` reports its
    progress or result, `{"resume": id}` carries on one whose invocation died or stopped at the cap.
    """
    with invocation.failures_counted(
        METRIC_RESTORE_FAILED, "restore failed: nothing was written unless the message says so"
    ):
        request = parse_restore_event(event)
        settings = Settings.from_environ()
        if isinstance(request, RestoreStatusEvent):
            invocation.count(METRIC_RESTORE_STATUS_READ)
            return _journal(settings).status(request.restore_status).to_json()
        outcome = _run(request, settings, context)
        if isinstance(outcome, RestoreInProgress):
            chain = invocation.Chain(chain_invocation(request), settings.max_invocations)
            return invocation.continuing(context, outcome, METRIC_RESTORE_CONTINUED, chain, _by_hand(outcome))
    if isinstance(outcome, DryRunReport):
        _count_dry_run(outcome)
    else:
        invocation.count(METRIC_RESTORE_SUCCEEDED)
        invocation.count(METRIC_ITEMS_RESTORED, outcome.items_restored)
    return outcome.to_json()


def _by_hand(outcome: RestoreInProgress) -> invocation.ByHand:
    """A restore is carried on by hand with `{"resume": id}`, from its last checkpoint."""
    return invocation.ByHand(
        what=f"restore {outcome.restore_id} into {outcome.target_table!r}",
        progress=outcome.progress_location,
        event={"resume": outcome.restore_id},
    )


def _journal(settings: Settings) -> RestoreJournal:
    """Restore progress lives in the function's own bucket, under its backup prefix."""
    return RestoreJournal(S3Store(s3_client(), settings.bucket), settings.prefix)


def _run(
    request: "RestoreRequest | ContinuationEvent | ResumeRestoreEvent",
    settings: Settings,
    context: LambdaContext,
) -> RestoreResult | RestoreInProgress | DryRunReport:
    dynamodb = dynamodb_client(max_connections=settings.restore_writers * 2)
    journal = _journal(settings)
    should_pause = continuation.pause_condition(context, settings.continuation_margin_seconds)
    if not isinstance(request, RestoreRequest):
        if isinstance(request, ContinuationEvent):
            checkpoint_key = request.continuation.checkpoint_key
        else:
            checkpoint_key = journal.latest_checkpoint(request.resume)
        _check_checkpoint(journal, checkpoint_key, settings)
        options = policy.restore_options(request, settings)
        return resume_restore(dynamodb, journal, checkpoint_key, options=options, should_pause=should_pause)

    policy.check_allowed(request, settings)
    options = policy.restore_options(request, settings)
    store = S3Store(s3_client(), request.bucket or settings.bucket)
    if request.keys_s3_key is not None:
        options = replace(options, keys_file=read_keys_file(journal.store, request.keys_s3_key))
    if request.dry_run:
        return _dry_run(dynamodb, store, request, settings, options=options)
    source = _open(request, settings, store)
    return start_restore(
        dynamodb, source, request.target_table, options=options, journal=journal, should_pause=should_pause
    )


def _check_checkpoint(journal: RestoreJournal, checkpoint_key: str, settings: Settings) -> None:
    """What a checkpoint would go on with is checked like a new request, before anything is written.

    A checkpoint that is gone is left to resume_restore: a replayed continuation whose restore
    a twin finished answers its recorded result, anything else is not found there.
    """
    try:
        progress = journal.load(checkpoint_key)
    except BackupNotFound:
        return
    policy.check_resumed(progress, settings)


def _open(request: RestoreRequest, settings: Settings, store: S3Store) -> Source:
    if request.s3_key == LATEST:
        source = open_latest(store, settings.prefix, settings.table_name)
    else:
        source = open_source_chain(store, request.s3_key, request.incrementals or (), request.until or "")
    logger.append_keys(source=source.location, kind=str(source.kind), target_table=request.target_table)
    return source


def _dry_run(
    dynamodb: "DynamoDBClient",
    store: S3Store,
    request: RestoreRequest,
    settings: Settings,
    *,
    options: "RestoreOptions",
) -> DryRunReport:
    """Verify only, and plan against an existing target, its report under the function's prefix.

    A backup that fails its check, its own records included, is reported, not raised.
    """
    try:
        source = _open(request, settings, store)
    except (CorruptBackup, IncompleteBackup) as exc:
        return DryRunReport.unreadable(store.location(request.s3_key), exc)
    report = StoredReport(_journal(settings).store, report_key(settings.prefix, request.target_table))
    return dry_run(dynamodb, source, request.target_table, options.key_schema, options=options, report=report)


def _count_dry_run(report: DryRunReport) -> None:
    if report.ok:
        invocation.count(METRIC_BACKUP_VERIFIED)
    else:
        invocation.count(METRIC_VERIFY_FAILED)
        logger.error("dry run: the backup failed its check", extra={"problems": list(report.report.problems)})
