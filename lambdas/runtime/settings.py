"""The functions' configuration, read once from the environment the stack sets (ledger_backup.contract)."""

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from ledger_backup.contract import (
    BACKUP_METHODS,
    DEFAULT_BACKUP_METHOD,
    DEFAULT_BACKUP_PREFIX,
    DEFAULT_CONTINUATION_MARGIN_SECONDS,
    DEFAULT_KEEP_LAST,
    DEFAULT_MAX_INVOCATIONS,
    DEFAULT_RESTORE_WRITERS,
    DEFAULT_SCAN_SEGMENTS,
    ENV_BACKUP_BUCKET,
    ENV_BACKUP_KMS_KEY_ARN,
    ENV_BACKUP_METHOD,
    ENV_BACKUP_PREFIX,
    ENV_CONTINUATION_MARGIN_SECONDS,
    ENV_KEEP_DAILY,
    ENV_KEEP_LAST,
    ENV_KEEP_MONTHLY,
    ENV_KEEP_WEEKLY,
    ENV_MAX_INVOCATIONS,
    ENV_MAX_ITEMS_PER_SECOND,
    ENV_RESTORE_WRITERS,
    ENV_SCAN_SEGMENTS,
    ENV_TABLE_NAME,
)
from ledger_backup.errors import LedgerBackupError
from ledger_backup.layout import normalize_prefix
from ledger_backup.retention import RetentionPolicy


class ConfigurationError(LedgerBackupError):
    """The function is deployed with missing or invalid environment settings."""


@dataclass(frozen=True)
class Settings:
    table_name: str  # the table the backup Lambda backs up; restore targets must start with it
    bucket: str
    prefix: str
    scan_segments: int
    restore_writers: int
    continuation_margin_seconds: int  # stop taking work this long before the Lambda's timeout
    max_items_per_second: float | None  # rate limit for backup reads and restore writes; None = unlimited
    max_invocations: int  # the longest chain of self-invocations (runtime/invocation.py)
    backup_method: str = DEFAULT_BACKUP_METHOD  # "scan" or "export" (ledger_backup.backup.export)
    # What the backup function prunes after each good backup (ledger_backup/retention.py).
    retention: RetentionPolicy = field(default_factory=RetentionPolicy)
    # The bucket's SSE-KMS key, named on each export request (exports are not documented to take the
    # bucket's default encryption); None: the bucket is SSE-S3.
    backup_kms_key_arn: str | None = None

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] = os.environ) -> "Settings":
        return cls(
            table_name=_required(environ, ENV_TABLE_NAME),
            bucket=_required(environ, ENV_BACKUP_BUCKET),
            prefix=normalize_prefix(environ.get(ENV_BACKUP_PREFIX, DEFAULT_BACKUP_PREFIX)),
            scan_segments=_positive_int(environ, ENV_SCAN_SEGMENTS, DEFAULT_SCAN_SEGMENTS),
            restore_writers=_positive_int(environ, ENV_RESTORE_WRITERS, DEFAULT_RESTORE_WRITERS),
            continuation_margin_seconds=_positive_int(
                environ, ENV_CONTINUATION_MARGIN_SECONDS, DEFAULT_CONTINUATION_MARGIN_SECONDS
            ),
            max_items_per_second=_positive_int(environ, ENV_MAX_ITEMS_PER_SECOND, 0) or None,
            max_invocations=_positive_int(environ, ENV_MAX_INVOCATIONS, DEFAULT_MAX_INVOCATIONS),
            backup_method=_one_of(environ, ENV_BACKUP_METHOD, BACKUP_METHODS, DEFAULT_BACKUP_METHOD),
            retention=RetentionPolicy(
                keep_last=_positive_int(environ, ENV_KEEP_LAST, DEFAULT_KEEP_LAST),
                keep_daily=_whole_number(environ, ENV_KEEP_DAILY),
                keep_weekly=_whole_number(environ, ENV_KEEP_WEEKLY),
                keep_monthly=_whole_number(environ, ENV_KEEP_MONTHLY),
            ),
            backup_kms_key_arn=environ.get(ENV_BACKUP_KMS_KEY_ARN, "").strip() or None,
        )


def _required(environ: Mapping[str, str], name: str) -> str:
    value = environ.get(name, "").strip()
    if not value:
        raise ConfigurationError(f"environment variable {name} is not set")
    return value


def _positive_int(environ: Mapping[str, str], name: str, default: int) -> int:
    """The variable as a positive integer; unset or empty gives `default`."""
    raw = environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value < 1:
        raise ConfigurationError(f"environment variable {name} must be a positive integer, not {raw!r}")
    return value


def _whole_number(environ: Mapping[str, str], name: str) -> int:
    """The variable as a whole number, 0 included (a retention period not used); unset or empty gives 0."""
    raw = environ.get(name)
    if raw is None or raw == "":
        return 0
    try:
        value = int(raw)
    except ValueError:
        value = -1
    if value < 0:
        raise ConfigurationError(
            f"environment variable {name} must be a whole number (0 or more), not {raw!r}"
        )
    return value


def _one_of(environ: Mapping[str, str], name: str, allowed: tuple[str, ...], default: str) -> str:
    """The variable as one of `allowed`; unset or empty gives `default`."""
    value = environ.get(name, "").strip() or default
    if value not in allowed:
        raise ConfigurationError(
            f"environment variable {name} must be one of {', '.join(allowed)}, not {value!r}"
        )
    return value
