"""What the functions may touch, and the restore options a request asks for: pure, no AWS calls.

The restore function reads only its own bucket under its backup prefix and writes only the
ledger or tables named after it, for a new request and for a continued or resumed one alike;
a backup continuation must be one of its own table's.
"""

import re

from ledger_backup.errors import InvalidRequest
from ledger_backup.names import TABLE_NAME_PATTERN
from ledger_backup.restore.journal import RestoreProgress
from ledger_backup.restore.run import RestoreOptions
from ledger_backup.schema import TableSchema, key_schema_from_json
from ledger_backup.sources import LATEST
from runtime.events import ContinuationEvent, DrillEvent, RestoreRequest, ResumeRestoreEvent
from runtime.settings import Settings


def check_allowed(request: RestoreRequest, settings: Settings) -> None:
    """The function may only read its own backups and write the ledger or tables named after it."""
    _check_target(request.target_table, settings)
    if request.bucket is not None and request.bucket != settings.bucket:
        raise InvalidRequest(
            f"bucket {request.bucket!r} is not allowed: this function restores only from its backup "
            f"bucket {settings.bucket!r}"
        )
    if request.keys_s3_key is not None:
        _check_source("keys_s3_key", request.keys_s3_key, settings)
    for key in request.incrementals if isinstance(request.incrementals, list) else ():
        _check_source("incrementals", key, settings)  # "all": the links inside s3_key's own folder
    if request.s3_key == LATEST:
        return
    _check_source("s3_key", request.s3_key, settings)


def check_drill(request: DrillEvent, settings: Settings) -> None:
    """A drill reads only this function's backups (its target is always a new `<ledger>-drill-` table)."""
    if request.s3_key is not None:
        _check_source("s3_key", request.s3_key, settings)


def check_resumed(progress: RestoreProgress, settings: Settings) -> None:
    """A continued or resumed restore is held to a new request's rules: its checkpoint can be hand-written.

    The checkpoint names the target and the source the restore goes on with; the bucket is
    always the function's own (the journal's), so only those two are left to check.
    """
    try:
        if not re.fullmatch(TABLE_NAME_PATTERN, progress.target_table):  # what a request's parser checks
            raise InvalidRequest(f"target_table {progress.target_table!r} is not a table name")
        _check_target(progress.target_table, settings)
        _check_source("source_key", progress.source_key, settings)
        for key in progress.incrementals:
            _check_source("incrementals", key, settings)
    except InvalidRequest as refused:
        raise InvalidRequest(
            f"restore {progress.restore_id} cannot carry on: its checkpoint's {refused}"
        ) from None


def _check_target(target_table: str, settings: Settings) -> None:
    if not target_table.startswith(settings.table_name):
        raise InvalidRequest(
            f"target_table {target_table!r} is not allowed: this function restores only into "
            f"{settings.table_name!r} or tables whose names start with it "
            f"(e.g. {settings.table_name}-restored)"
        )


def _check_source(field: str, key: str, settings: Settings) -> None:
    if not key.startswith(settings.prefix) or ".." in key.split("/"):
        raise InvalidRequest(f"{field} {key!r} is outside the backup prefix {settings.prefix!r}")


def check_backup_checkpoint(checkpoint_key: str, settings: Settings) -> None:
    """A backup continuation carries on only one of this function's own table's backups."""
    if not checkpoint_key.startswith(f"{settings.prefix}{settings.table_name}/") or ".." in checkpoint_key:
        raise InvalidRequest(f"checkpoint {checkpoint_key!r} is not one of this table's backups")


def _key_schema(request: RestoreRequest) -> TableSchema | None:
    """The request's `key_schema` as a schema (its entries were checked when the event was parsed)."""
    if request.key_schema is None:
        return None
    return key_schema_from_json([entry.model_dump() for entry in request.key_schema])


def restore_options(
    request: RestoreRequest | ContinuationEvent | ResumeRestoreEvent, settings: Settings
) -> RestoreOptions:
    """A new restore takes the request's options; a continued one only the function's tuning."""
    if not isinstance(request, RestoreRequest):
        return RestoreOptions(
            writers=settings.restore_writers, max_items_per_second=settings.max_items_per_second
        )
    return RestoreOptions(
        create_table=request.create_table,
        overwrite=request.overwrite,
        writers=settings.restore_writers,
        key_schema=_key_schema(request),
        max_items_per_second=request.max_items_per_second or settings.max_items_per_second,
        mode=request.mode or "",
        keys=request.keys,
    )
