"""Restore Lambda, invoked on demand:

    aws lambda invoke --function-name <restore function> --cli-binary-format raw-in-base64-out \
        --payload '{"s3_key": "backups/<table>/<timestamp>/manifest.json",
                    "target_table": "<table>-restored"}' out.json

`s3_key` may also be "latest" (the newest complete backup of TABLE_NAME), a scan document
(`aws dynamodb scan --output json` output, plain or gzipped) or a DynamoDB export's
manifest-summary.json. Those two record no key schema: the target must exist, or the event
gives `"key_schema"`. `"dry_run": true` verifies the backup and writes nothing.
`{"drill": true}` (the drill schedule's event) restores the newest backup into a new
`<table>-drill-<UTC time>` table, proves it equal to the backup and deletes it (restore/drill.py).
"""

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from ledger_backup.aws.clients import dynamodb_client, s3_client
from ledger_backup.contract import (
    METRIC_BACKUP_VERIFIED,
    METRIC_ITEMS_RESTORED,
    METRIC_RESTORE_CONTINUED,
    METRIC_RESTORE_DRILL_FAILED,
    METRIC_RESTORE_DRILL_SUCCEEDED,
    METRIC_RESTORE_FAILED,
    METRIC_RESTORE_STATUS_READ,
    METRIC_RESTORE_SUCCEEDED,
    METRIC_VERIFY_FAILED,
)
from ledger_backup.errors import BackupNotFound, CorruptBackup, IncompleteBackup, InvocationLimitReached
from ledger_backup.interpreter import prefer_io_threads
from ledger_backup.restore import drill
from ledger_backup.restore.import_table import IMPORT_METHOD
from ledger_backup.restore.journal import RestoreJournal, RestoreProgress
from ledger_backup.restore.plan import StoredReport, report_key
from ledger_backup.restore.run import (
    DryRunReport,
    RestoreInProgress,
    RestoreOptions,
    RestoreResult,
    dry_run,
    read_keys_file,
    resume_restore,
    start_import_restore,
    start_restore,
)
from ledger_backup.sources import LATEST, Source, open_latest
from ledger_backup.sources.chain import open_source_chain
from ledger_backup.storage.stores import S3Store
from runtime import continuation, invocation, policy
from runtime.events import (
    ContinuationEvent,
    DrillEvent,
    RestoreRequest,
    RestoreStatusEvent,
    chain_invocation,
    parse_restore_event,
)
from runtime.observability import logger, metrics, tracer
from runtime.settings import Settings

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

    from runtime.events import ResumeRestoreEvent


prefer_io_threads()  # this module is the function's entry point: the process's setting is made here


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
        resumed = None if isinstance(request, RestoreRequest | DrillEvent) else _resumed(request, settings)
    if isinstance(request, DrillEvent) or (
        not isinstance(request, RestoreRequest) and resumed is not None and resumed.drill is not None
    ):
        return _drill(request, resumed, settings, context)
    with invocation.failures_counted(
        METRIC_RESTORE_FAILED, "restore failed: nothing was written unless the message says so"
    ):
        outcome = _run(request, resumed, settings, context)
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


@dataclass(frozen=True)
class _Resumed:
    """The checkpoint a continued or resumed restore goes on from, and its progress when it is a drill's."""

    checkpoint_key: str
    drill: RestoreProgress | None


def _resumed(request: "ContinuationEvent | ResumeRestoreEvent", settings: Settings) -> _Resumed:
    journal = _journal(settings)
    if isinstance(request, ContinuationEvent):
        checkpoint_key = request.continuation.checkpoint_key
    else:
        checkpoint_key = journal.latest_checkpoint(request.resume)
    progress = _check_checkpoint(journal, checkpoint_key, settings)
    return _Resumed(checkpoint_key, progress if progress is not None and progress.drill else None)


def _run(
    request: "RestoreRequest | ContinuationEvent | ResumeRestoreEvent",
    resumed: _Resumed | None,
    settings: Settings,
    context: LambdaContext,
) -> RestoreResult | RestoreInProgress | DryRunReport:
    dynamodb = dynamodb_client(max_connections=settings.restore_writers * 2)
    journal = _journal(settings)
    should_pause = continuation.pause_condition(context, settings.continuation_margin_seconds)
    if not isinstance(request, RestoreRequest):
        if resumed is None:  # pragma: no cover - the handler resolves every continued or resumed request
            raise TypeError("a continued restore without its checkpoint")
        options = policy.restore_options(request, settings)
        return resume_restore(
            dynamodb, journal, resumed.checkpoint_key, options=options, should_pause=should_pause
        )

    policy.check_allowed(request, settings)
    options = policy.restore_options(request, settings)
    store = S3Store(s3_client(), request.bucket or settings.bucket)
    if request.keys_s3_key is not None:
        options = replace(options, keys_file=read_keys_file(journal.store, request.keys_s3_key))
    if request.dry_run:
        return _dry_run(dynamodb, store, request, settings, options=options)
    source = _open(request, settings, store)
    if request.method == IMPORT_METHOD:
        return start_import_restore(
            dynamodb,
            store,
            source,
            request.target_table,
            options=options,
            journal=journal,
            should_pause=should_pause,
        )
    return start_restore(
        dynamodb, source, request.target_table, options=options, journal=journal, should_pause=should_pause
    )


def _check_checkpoint(
    journal: RestoreJournal, checkpoint_key: str, settings: Settings
) -> RestoreProgress | None:
    """What a checkpoint would go on with is checked like a new request, before anything is written.

    A checkpoint that is gone is left to resume_restore (None): a replayed continuation whose
    restore a twin finished answers its recorded result, anything else is not found there.
    """
    try:
        progress = journal.load(checkpoint_key)
    except BackupNotFound:
        return None
    policy.check_resumed(progress, settings)
    return progress


def _drill(
    request: "DrillEvent | ContinuationEvent | ResumeRestoreEvent",
    resumed: _Resumed | None,
    settings: Settings,
    context: LambdaContext,
) -> dict[str, Any]:
    """A restore drill, new or carried on: RestoreDrillSucceeded, or RestoreDrillFailed and the error raised.

    A drill that cannot hand on to its next invocation (the chain's cap, a refused Invoke) is
    abandoned like any failed drill: its table deleted, its checkpoints discarded.
    """
    with invocation.failures_counted(
        METRIC_RESTORE_DRILL_FAILED, "restore drill failed: its table is deleted unless the message says so"
    ):
        dynamodb = dynamodb_client(max_connections=settings.restore_writers * 2)
        journal = _journal(settings)
        should_pause = continuation.pause_condition(context, settings.continuation_margin_seconds)
        options = RestoreOptions(
            writers=settings.restore_writers, max_items_per_second=settings.max_items_per_second
        )
        if isinstance(request, DrillEvent):
            policy.check_drill(request, settings)
            store = S3Store(s3_client(), settings.bucket)
            outcome = drill.start_drill(
                dynamodb,
                store,
                settings.prefix,
                settings.table_name,
                s3_key=request.s3_key,
                journal=journal,
                options=options,
                should_pause=should_pause,
                time_left=lambda: context.get_remaining_time_in_millis() / 1000,
                margin_seconds=settings.continuation_margin_seconds,
            )
        else:
            if resumed is None or resumed.drill is None:  # pragma: no cover - the handler routes only drills
                raise TypeError("a continued drill without its checkpoint")
            outcome = drill.resume_drill(
                dynamodb,
                journal,
                resumed.checkpoint_key,
                resumed.drill,
                settings.table_name,
                options=options,
                should_pause=should_pause,
            )
        if isinstance(outcome, RestoreInProgress):
            chain = invocation.Chain(chain_invocation(request), settings.max_invocations)
            if chain.invocation >= chain.max_invocations:  # a drill is run again, not resumed by hand
                raise drill.abandon_drill(
                    dynamodb,
                    journal,
                    outcome,
                    InvocationLimitReached(
                        f"it did not finish in {chain.invocation} invocations, the limit of one chain "
                        "(MAX_INVOCATIONS, cdk.json max_invocations); raise max_invocations for this "
                        "environment and deploy"
                    ),
                )
            try:
                return invocation.continuing(
                    context, outcome, METRIC_RESTORE_CONTINUED, chain, _by_hand(outcome)
                )
            except Exception as exc:
                raise drill.abandon_drill(dynamodb, journal, outcome, exc) from exc
    invocation.count(METRIC_RESTORE_DRILL_SUCCEEDED)
    return outcome.to_json()


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
