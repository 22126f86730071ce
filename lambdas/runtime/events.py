"""The events the functions accept, validated by Powertools' parser (pydantic models).

A request that does not fit is refused before any work starts, with one message that
names each offending field.
"""

from dataclasses import dataclass
from typing import Annotated, Any, Literal, TypeVar

from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.parser.models import EventBridgeModel
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    ValidationError,
    field_validator,
    model_validator,
)

from ledger_backup.backup.run import BackupLabel
from ledger_backup.contract import MAX_INVOCATIONS_CEILING
from ledger_backup.errors import InvalidRequest
from ledger_backup.names import BUCKET_NAME_PATTERN, LABEL_PATTERN, TABLE_NAME_PATTERN
from ledger_backup.restore.selection import MAX_REQUEST_KEYS
from ledger_backup.retention import MAX_RETAIN_DAYS
from ledger_backup.schema import key_schema_from_json
from ledger_backup.sources.aws_incremental import parse_time
from ledger_backup.sources.chain import MAX_INCREMENTALS

Model = TypeVar("Model", bound=BaseModel)


class ManualBackupRequest(BaseModel):
    """`{}`: a backup started by hand (`aws lambda invoke`), e.g. before a pipeline change.

    `{"label": "before-pipeline-v4", "retain_days": 365}` names it in its manifest and keeps it
    from pruning for that many days from its start; a label alone only names it (README "Retention").
    """

    model_config = ConfigDict(extra="forbid")

    label: str | None = Field(default=None, pattern=LABEL_PATTERN)
    retain_days: StrictInt | None = Field(default=None, ge=1, le=MAX_RETAIN_DAYS)

    @model_validator(mode="after")
    def _retention_is_named(self) -> "ManualBackupRequest":
        if self.retain_days is not None and self.label is None:
            raise ValueError("retain_days needs a label: name why this backup is kept past the policy")
        return self

    def backup_label(self) -> BackupLabel | None:
        return None if self.label is None else BackupLabel(self.label, self.retain_days)


class Continuation(BaseModel):
    """Where the previous invocation of a long backup or restore stopped.

    `invocation` is this invocation's number in its chain (runtime/invocation.py): the function sets
    it; an event sent by hand leaves it out and so starts a new chain at 1.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    checkpoint_key: str = Field(min_length=1, max_length=1024)
    invocation: StrictInt = Field(default=1, ge=1, le=MAX_INVOCATIONS_CEILING)


class ContinuationEvent(BaseModel):
    """`{"continuation": {"checkpoint_key": ..., "invocation": n}}`: a function's hand-off to itself."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    continuation: Continuation


class KeyAttribute(BaseModel):
    """One entry of `key_schema`, as CreateTable's KeySchema plus the attribute's type."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    AttributeName: str = Field(min_length=1, max_length=255)  # DynamoDB's own field names
    KeyType: Literal["HASH", "RANGE"]
    AttributeType: Literal["S", "N", "B"]


IncrementalKeys = list[Annotated[str, Field(min_length=1, max_length=1024)]]


class RestoreRequest(BaseModel):
    """`{"s3_key": ..., "target_table": ...}` plus options.

    `s3_key` names any backup the function reads (a ledger-backup folder or manifest, a scan
    document, an export's manifest-summary.json) or is "latest". `key_schema` is for sources
    that record none; `dry_run` verifies without writing (and against an existing target plans:
    `changes` and a report). `mode`, `keys` and `keys_s3_key` make an incident restore
    (ledger_backup.restore.modes, .selection).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    s3_key: str = Field(
        min_length=1, max_length=1024, description='backup key (any kind the function reads) or "latest"'
    )
    target_table: str = Field(pattern=TABLE_NAME_PATTERN)
    bucket: str | None = Field(default=None, pattern=BUCKET_NAME_PATTERN)
    create_table: StrictBool = True
    overwrite: StrictBool = False
    dry_run: StrictBool = False
    key_schema: list[KeyAttribute] | None = Field(default=None, min_length=1, max_length=2)
    max_items_per_second: StrictInt | None = Field(default=None, ge=1, le=1_000_000)
    mode: Literal["upsert", "missing", "replace"] | None = None
    keys: list[dict[str, Any]] | None = Field(default=None, min_length=1, max_length=MAX_REQUEST_KEYS)
    keys_s3_key: str | None = Field(default=None, min_length=1, max_length=1024)
    # A chain (ledger_backup.sources.chain): incremental exports after s3_key's full export, in order,
    # or "all" the links this tool's export backup records, applied up to `until` (an ISO 8601 time with
    # its offset), by default to the chain's end.
    incrementals: IncrementalKeys | Literal["all"] | None = Field(
        default=None, min_length=1, max_length=MAX_INCREMENTALS
    )
    until: str | None = Field(default=None, min_length=1, max_length=64)
    # "import": after the verify, DynamoDB's ImportTable creates and fills the new target
    # (ledger_backup.restore.import_table); the default writes with BatchWriteItem.
    method: Literal["batch-write", "import"] = "batch-write"

    @model_validator(mode="after")
    def _one_selection(self) -> "RestoreRequest":
        if self.keys is not None and self.keys_s3_key is not None:
            raise ValueError("give keys or keys_s3_key, not both")
        return self

    @model_validator(mode="after")
    def _chain(self) -> "RestoreRequest":
        if self.until is not None and self.incrementals is None:
            raise ValueError(
                "until needs incrementals: it picks a moment inside a chain of incremental exports"
            )
        if self.incrementals is not None and self.s3_key == "latest":
            raise ValueError(
                "incrementals follow a full export: give its manifest-summary.json as s3_key, not latest"
            )
        if self.until is not None:
            try:
                parse_time(self.until, "until")
            except InvalidRequest as exc:
                raise ValueError(str(exc)) from None
        return self

    @model_validator(mode="after")
    def _importable(self) -> "RestoreRequest":
        chosen = self.mode is not None or self.keys is not None or self.keys_s3_key is not None
        if self.method == "import" and (chosen or self.incrementals):
            raise ValueError(
                'method "import" restores a whole backup into a new table: it takes no mode, keys, '
                "keys_s3_key or incrementals"
            )
        if self.method == "import" and not self.create_table:
            raise ValueError('method "import" creates its table, so create_table cannot be false')
        return self

    @field_validator("key_schema")
    @classmethod
    def _valid_key_schema(cls, value: list[KeyAttribute] | None) -> list[KeyAttribute] | None:
        """The core's rules (one HASH key, at most one RANGE key, no name twice), checked while parsing."""
        if value is not None:
            try:
                key_schema_from_json([entry.model_dump() for entry in value])
            except InvalidRequest as exc:  # pydantic names the field: "key_schema: Value error, <problem>"
                raise ValueError(str(exc).removeprefix("key_schema").lstrip(": ")) from None
        return value


RESTORE_ID_PATTERN = r"^[0-9]{8}T[0-9]{6}Z-[0-9a-f]{8}$"


class ResumeRestoreEvent(BaseModel):
    """`{"resume": "<restore id>"}`: carry on a restore whose invocation died, from its last checkpoint."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    resume: str = Field(pattern=RESTORE_ID_PATTERN)


class RestoreStatusEvent(BaseModel):
    """`{"restore_status": "<restore id>"}`: how far a restore got, or its result."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    restore_status: str = Field(pattern=RESTORE_ID_PATTERN)


class DrillEvent(BaseModel):
    """`{"drill": true}`: a restore drill of the newest complete backup, or of the one `s3_key` names.

    Sent by the drill schedule (cdk.json `drill_schedule`); see ledger_backup.restore.drill.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    drill: StrictBool
    s3_key: str | None = Field(default=None, min_length=1, max_length=1024, description="a manifest's key")

    @field_validator("drill")
    @classmethod
    def _only_true(cls, value: bool) -> bool:
        if not value:
            raise ValueError('must be true; to restore, send {"s3_key": ..., "target_table": ...}')
        return value


RestoreEvent = RestoreRequest | ContinuationEvent | ResumeRestoreEvent | RestoreStatusEvent | DrillEvent


def chain_invocation(request: RestoreEvent) -> int:
    """The request's number in its chain: a continuation's own, 1 for anything a person sent."""
    return request.continuation.invocation if isinstance(request, ContinuationEvent) else 1


def parse_restore_event(event: Any) -> RestoreEvent:
    """Pick the model by the event's distinguishing key, then validate strictly against it."""
    if isinstance(event, dict):
        if "continuation" in event:
            return parse_event(event, ContinuationEvent)
        if "resume" in event:
            return parse_event(event, ResumeRestoreEvent)
        if "restore_status" in event:
            return parse_event(event, RestoreStatusEvent)
        if "drill" in event:
            return parse_event(event, DrillEvent)
    return parse_event(event, RestoreRequest)


def parse_event(event: Any, model: type[Model]) -> Model:
    """Validate `event` against `model`, turning pydantic's report into one InvalidRequest."""
    if not isinstance(event, dict):
        raise InvalidRequest(f"the event must be a JSON object, not {type(event).__name__}")
    try:
        return parse(event=event, model=model)
    except ValidationError as exc:
        raise InvalidRequest(f"invalid {model.__name__}: {describe(exc)}") from None


def _must_be_true(value: bool) -> bool:
    if not value:
        raise ValueError("must be true (false asks for nothing)")
    return value


class IncrementalExportRequest(BaseModel):
    """`{"incremental": true}`: the incremental schedule's event (backup_method export only)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    incremental: StrictBool

    @field_validator("incremental")
    @classmethod
    def _only_true(cls, value: bool) -> bool:
        return _must_be_true(value)


class ExportPollRequest(BaseModel):
    """`{"export_poll": true}`: the export-poll schedule's event: check running exports, catalog done ones."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    export_poll: StrictBool

    @field_validator("export_poll")
    @classmethod
    def _only_true(cls, value: bool) -> bool:
        return _must_be_true(value)


BackupAction = Literal["backup", "incremental", "export_poll"]


@dataclass(frozen=True)
class BackupTrigger:
    """What started this invocation: a schedule, a person, or the previous invocation of a long backup."""

    description: str
    checkpoint_key: str | None = None
    invocation: int = 1  # this invocation's number in its chain of self-invocations
    action: BackupAction = "backup"  # a backup by the configured method, an incremental export, a poll
    label: BackupLabel | None = None  # a manual backup's label and retention (ManualBackupRequest)


def parse_backup_trigger(event: Any) -> BackupTrigger:
    """Accept a scheduled EventBridge event, `{}`, a continuation, or an export schedule's flag event."""
    if isinstance(event, dict) and (not event or "label" in event or "retain_days" in event):
        label = parse_event(event, ManualBackupRequest).backup_label()
        return BackupTrigger("manual" if label is None else f"manual {label.name}", label=label)
    if isinstance(event, dict) and "continuation" in event:
        continuation = parse_event(event, ContinuationEvent).continuation
        return BackupTrigger("continuation", continuation.checkpoint_key, continuation.invocation)
    if isinstance(event, dict) and "incremental" in event:
        parse_event(event, IncrementalExportRequest)
        return BackupTrigger("incremental", action="incremental")
    if isinstance(event, dict) and "export_poll" in event:
        parse_event(event, ExportPollRequest)
        return BackupTrigger("export poll", action="export_poll")
    scheduled = parse_event(event, EventBridgeModel)
    return BackupTrigger(f"{scheduled.detail_type} {scheduled.id}")


_MAX_PROBLEMS = 5
_MAX_FIELD = 60


def describe(error: ValidationError) -> str:
    """`field: problem; field: problem`, short whatever was sent: no URLs, inputs or huge field names."""
    problems = error.errors(include_url=False, include_input=False)
    parts = []
    for problem in problems[:_MAX_PROBLEMS]:
        field = ".".join(str(p) for p in problem["loc"]) or "event"
        if len(field) > _MAX_FIELD:
            field = f"{field[:_MAX_FIELD]}... ({len(field)} characters)"
        parts.append(f"{field}: {problem['msg']}")
    if len(problems) > _MAX_PROBLEMS:
        parts.append(f"and {len(problems) - _MAX_PROBLEMS} more")
    return "; ".join(parts)
