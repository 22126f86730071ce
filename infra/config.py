"""Environment settings, parsed from CDK context into a typed, validated dataclass.

cdk.json holds one entry per environment under the ``environments`` context key; ``-c env=NAME``
selects one of them. Every key is checked here, at synth time, so a typo or an out-of-range value
fails `cdk synth` with a message naming the environment and the key instead of a broken deployment.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ledger_backup.contract import (
    BACKUP_METHODS,
    DEFAULT_BACKUP_METHOD,
    DEFAULT_BACKUP_PREFIX,
    DEFAULT_CONTINUATION_MARGIN_SECONDS,
    DEFAULT_KEEP_LAST,
    DEFAULT_MAX_INVOCATIONS,
    DEFAULT_METRICS_NAMESPACE,
    DEFAULT_RESTORE_WRITERS,
    DEFAULT_SCAN_SEGMENTS,
    DEFAULT_SERVICE_NAME,
    EXPORT_JOBS_FOLDER,
    MAX_INVOCATIONS_CEILING,
    RESTORES_FOLDER,
)

ENVIRONMENTS_CONTEXT_KEY = "environments"
"""Context key whose value maps environment names to their settings (see cdk.json)."""

SELECTED_ENV_CONTEXT_KEY = "env"
"""Context key (`-c env=prod`) that restricts the app to one environment."""

LOG_RETENTION_DAYS: Mapping[int, str] = {
    1: "ONE_DAY",
    3: "THREE_DAYS",
    5: "FIVE_DAYS",
    7: "ONE_WEEK",
    14: "TWO_WEEKS",
    30: "ONE_MONTH",
    60: "TWO_MONTHS",
    90: "THREE_MONTHS",
    120: "FOUR_MONTHS",
    150: "FIVE_MONTHS",
    180: "SIX_MONTHS",
    365: "ONE_YEAR",
    400: "THIRTEEN_MONTHS",
    545: "EIGHTEEN_MONTHS",
    731: "TWO_YEARS",
    1096: "THREE_YEARS",
    1827: "FIVE_YEARS",
    2192: "SIX_YEARS",
    2557: "SEVEN_YEARS",
    2922: "EIGHT_YEARS",
    3288: "NINE_YEARS",
    3653: "TEN_YEARS",
}
"""The only retention periods CloudWatch Logs accepts (days), each with its ``aws_logs.RetentionDays`` member.

Named rather than imported so that this module (bench/ reads it too) stays free of the CDK and its jsii
start-up; infra/functions.py looks the members up by these names.
"""
LOG_RETENTION_DAYS_ALLOWED = frozenset(LOG_RETENTION_DAYS)
LOG_LEVELS = frozenset({"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"})

_ENV_NAME = re.compile(r"^[a-z][a-z0-9-]{0,19}$")
_TABLE_NAME = re.compile(r"^[A-Za-z0-9_.-]{3,255}$")
_STACK_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9-]{0,127}$")
_ACCOUNT = re.compile(r"^\d{12}$")
_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d$")
_SCHEDULE = re.compile(r"^(rate\(\d+ (minute|minutes|hour|hours|day|days)\)|cron\(\S+( \S+){5}\))$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_PREFIX = re.compile(r"^[A-Za-z0-9!_.*'()/-]+/$")
_NAMESPACE = re.compile(r"^[A-Za-z0-9._/#:-]{1,255}$")
_SERVICE = re.compile(r"^[a-z][a-z0-9-]{0,39}$")
_BUCKET_ARN = re.compile(r"^arn:aws[a-z-]*:s3:::[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_KMS_KEY_ARN = re.compile(
    r"^arn:aws[a-z-]*:kms:(?P<region>[a-z]{2}(-[a-z]+)+-\d):(?P<account>\d{12}):key/[A-Za-z0-9-]{1,128}$"
)

# The longest window a CloudWatch alarm with a one-hour period may evaluate (7 days).
MAX_STALE_AFTER_HOURS = 168
MAX_DRILL_STALE_AFTER_DAYS = 8
"""PutMetricAlarm refuses Period x EvaluationPeriods over 604,800 s (7 days). The no-passed-drill alarm
evaluates drill_stale_after_days - 1 complete UTC days (a wall-clock window), so 8 is the most it can be."""
OBJECT_LOCK_MODES = frozenset({"GOVERNANCE", "COMPLIANCE"})
KMS_KEY_CREATE = "create"
RETIRED_KEYS: Mapping[str, str] = {
    "backup_retention_days": (
        "was replaced by keep_last, keep_daily, keep_weekly and keep_monthly: the backup function now prunes "
        "old backups itself and no lifecycle rule expires them; remove the key and set those instead"
    ),
}
"""Keys that once meant something: refused with what replaced them rather than as unknown."""


@dataclass(frozen=True)
class ReplicaConfig:
    """Where S3 replication copies the backups: a bucket, optionally in another account, region, key."""

    bucket_arn: str
    account: str | None = None
    """The destination bucket's owner, when not this account: replicas are then owned by that account."""
    region: str | None = None
    """The destination bucket's region (documentation and a check of kms_key_arn's region)."""
    kms_key_arn: str | None = None
    """Replicas are encrypted with this key (SSE-KMS, destination region); absent: the bucket's default."""

    @property
    def bucket_name(self) -> str:
        """The destination bucket's name (the ARN's last part)."""
        return self.bucket_arn.rsplit(":", 1)[1]


class ConfigError(ValueError):
    """A cdk.json environment entry is missing, unknown or invalid."""


@dataclass(frozen=True)
class EnvironmentConfig:
    """Everything that differs between deployments of ledger-backup (dev, prod, ...).

    Only ``name`` and ``table_name`` are required; the defaults suit a production-like environment. Those the
    functions fall back to as well (prefix, segments, writers, margin, max invocations, service,
    namespace) are the contract's.
    """

    name: str
    table_name: str
    existing_table: bool = False
    """Adopt the table named ``table_name`` that already exists instead of creating it."""
    retain_data: bool = True
    """RETAIN + deletion protection for the table, RETAIN for log groups and keys (prod); False = DESTROY."""
    stack_name: str = ""
    account: str | None = None
    region: str | None = None
    backup_schedule: str = "cron(0 3 * * ? *)"
    backup_prefix: str = DEFAULT_BACKUP_PREFIX
    keep_last: int = DEFAULT_KEEP_LAST
    """The newest complete backups the pruner always keeps, whatever their age."""
    keep_daily: int = 14
    """Also keep the first complete backup of each of the last N calendar days (UTC): two weeks of dailies."""
    keep_weekly: int = 8
    """... of each of the last N ISO weeks: two months of weeklies, past the dailies."""
    keep_monthly: int = 12
    """... of each of the last N calendar months: a year, the usual audit horizon."""
    noncurrent_version_retention_days: int = 7
    restore_records_days: int = 30
    """Restore journals, checkpoints, results and plan reports under <prefix>restores/ expire after this."""
    object_lock_days: int | None = None
    """S3 Object Lock default retention of every new object version, in days; None = no Object Lock."""
    object_lock_mode: str | None = None
    """GOVERNANCE (s3:BypassGovernanceRetention may lift it) or COMPLIANCE (nobody can), with the days."""
    replica: ReplicaConfig | None = None
    """S3 replication of the backups to a second bucket; None = no replication."""
    kms_key: str | None = None
    """SSE-KMS for the backup bucket: "create" (a key of this stack) or a key ARN; None = SSE-S3."""
    drill_schedule: str | None = "cron(0 5 ? * SUN *)"
    """When the restore function runs {"drill": true}; None = no scheduled drill, no no-passed-drill alarm."""
    drill_stale_after_days: int = MAX_DRILL_STALE_AFTER_DAYS
    """The no-passed-drill alarm is on at most this many days after the last RestoreDrillSucceeded."""
    access_log_retention_days: int = 90
    lambda_memory_mb: int = 1024
    lambda_timeout_minutes: int = 15
    scan_segments: int = DEFAULT_SCAN_SEGMENTS
    restore_writers: int = DEFAULT_RESTORE_WRITERS
    continuation_margin_seconds: int = DEFAULT_CONTINUATION_MARGIN_SECONDS
    """Backup and restore stop taking work this long before their timeout and continue in a new invocation."""
    max_invocations: int = DEFAULT_MAX_INVOCATIONS
    """The longest chain of self-invocations of one backup or restore; past it the chain stops with an error.

    The guard rail that replaces Lambda's recursive loop detection, which the functions allow (it would stop
    every chain at about 16 invocations). The default, 96, is a day of 15-minute invocations: a daily backup
    still chaining after a day has met the next scheduled one and is stuck, not long.
    """
    max_items_per_second: int | None = None
    """Rate limit of backup reads and restore writes (items/s); None = as fast as DynamoDB allows."""
    log_retention_days: int = 90
    log_level: str = "INFO"
    service_name: str = DEFAULT_SERVICE_NAME
    metrics_namespace: str = DEFAULT_METRICS_NAMESPACE
    alarm_email: str | None = None
    stale_after_hours: int = 26
    """Alarm when no BackupSucceeded datapoint was recorded for this many hours."""
    backup_method: str = DEFAULT_BACKUP_METHOD
    """"scan" (a parallel Scan) or "export" (DynamoDB's export to S3: one moment, no read capacity, PITR)."""
    incremental_schedule: str | None = None
    """With backup_method export: when an incremental export extends the newest full one; None = none."""

    def __post_init__(self) -> None:
        """Fill derived defaults and reject invalid values before any construct is built."""
        if not self.stack_name:
            object.__setattr__(self, "stack_name", f"LedgerBackup-{self.name}")
        _validate(self)

    @property
    def function_name_prefix(self) -> str:
        """Stable prefix for Lambda function names, so runbooks can name them without stack outputs."""
        return f"{self.service_name}-{self.name}"


def _require(condition: bool, env: str, key: str, message: str) -> None:
    if not condition:
        raise ConfigError(f"environment {env!r}: {key}: {message}")


def _in_range(cfg: EnvironmentConfig, key: str, low: int, high: int) -> None:
    value = getattr(cfg, key)
    _require(
        isinstance(value, int) and not isinstance(value, bool) and low <= value <= high,
        cfg.name,
        key,
        f"must be an integer in [{low}, {high}], got {value!r}",
    )


def _matches(cfg: EnvironmentConfig, key: str, pattern: re.Pattern[str], what: str) -> None:
    value = getattr(cfg, key)
    _require(isinstance(value, str) and bool(pattern.match(value)), cfg.name, key, f"{what}, got {value!r}")


def _validate(cfg: EnvironmentConfig) -> None:
    """Check every field; raise ConfigError naming the first bad one."""
    _require(
        isinstance(cfg.name, str) and bool(_ENV_NAME.match(cfg.name)), cfg.name, "name", "lowercase, <= 20"
    )
    _matches(cfg, "table_name", _TABLE_NAME, "must be a DynamoDB table name")
    _require(
        cfg.table_name != RESTORES_FOLDER.rstrip("/"),
        cfg.name,
        "table_name",
        f"{cfg.table_name!r} is reserved: restore progress is kept under <backup_prefix>{RESTORES_FOLDER}",
    )
    _matches(cfg, "stack_name", _STACK_NAME, "must be a CloudFormation stack name")
    for key in ("existing_table", "retain_data"):
        _require(isinstance(getattr(cfg, key), bool), cfg.name, key, "must be true or false")
    if cfg.account is not None:
        _matches(cfg, "account", _ACCOUNT, "must be a 12-digit AWS account id")
    if cfg.region is not None:
        _matches(cfg, "region", _REGION, "must be an AWS region such as eu-west-1")
    _matches(cfg, "backup_schedule", _SCHEDULE, "must be an EventBridge rate(...) or cron(...) expression")
    _matches(cfg, "backup_prefix", _PREFIX, "must be a relative S3 key prefix ending with '/'")
    _require(not cfg.backup_prefix.startswith("/"), cfg.name, "backup_prefix", "must not start with '/'")
    _in_range(cfg, "keep_last", 1, 10_000)
    for key in ("keep_daily", "keep_weekly", "keep_monthly"):
        _in_range(cfg, key, 0, 3650)
    _in_range(cfg, "noncurrent_version_retention_days", 1, 3650)
    _in_range(cfg, "restore_records_days", 1, 3650)
    _validate_object_lock(cfg)
    if cfg.replica is not None:
        _require(isinstance(cfg.replica, ReplicaConfig), cfg.name, "replica", "must be a JSON object or null")
        _validate_replica(cfg.name, cfg.replica)
        # S3 replicates SSE-KMS objects only when told a key for the replicas; SSE-S3 ones take none.
        _require(
            (cfg.kms_key is None) == (cfg.replica.kms_key_arn is None),
            cfg.name,
            "replica.kms_key_arn",
            "is required with kms_key (S3 replicates SSE-KMS backups only to a named key in the destination "
            "region)"
            if cfg.kms_key is not None
            else "applies only with kms_key: SSE-S3 backups are replicated as SSE-S3 objects",
        )
    if cfg.kms_key is not None:
        _validate_kms_key(cfg)
    if cfg.drill_schedule is not None:
        _matches(
            cfg,
            "drill_schedule",
            _SCHEDULE,
            "must be an EventBridge rate(...) or cron(...) expression or null",
        )
    _in_range(cfg, "drill_stale_after_days", 2, MAX_DRILL_STALE_AFTER_DAYS)
    _in_range(cfg, "access_log_retention_days", 1, 3650)
    _in_range(cfg, "lambda_memory_mb", 128, 10240)
    _in_range(cfg, "lambda_timeout_minutes", 1, 15)
    _in_range(cfg, "scan_segments", 1, 64)
    _in_range(cfg, "restore_writers", 1, 64)
    # The margin must leave most of the timeout for work: at most half of it.
    _in_range(cfg, "continuation_margin_seconds", 10, cfg.lambda_timeout_minutes * 30)
    # 1 = never continue (each invocation finishes or stops); the ceiling is over 10 days of 15-minute ones.
    _in_range(cfg, "max_invocations", 1, MAX_INVOCATIONS_CEILING)
    if cfg.max_items_per_second is not None:
        _in_range(cfg, "max_items_per_second", 1, 1_000_000)
    _in_range(cfg, "stale_after_hours", 1, MAX_STALE_AFTER_HOURS)
    _require(
        cfg.log_retention_days in LOG_RETENTION_DAYS_ALLOWED,
        cfg.name,
        "log_retention_days",
        f"must be one of {sorted(LOG_RETENTION_DAYS_ALLOWED)}, got {cfg.log_retention_days!r}",
    )
    _require(cfg.log_level in LOG_LEVELS, cfg.name, "log_level", f"must be one of {sorted(LOG_LEVELS)}")
    _matches(cfg, "service_name", _SERVICE, "must be lowercase letters, digits and '-'")
    _matches(cfg, "metrics_namespace", _NAMESPACE, "must be a CloudWatch namespace")
    _require(not cfg.metrics_namespace.startswith("AWS/"), cfg.name, "metrics_namespace", "AWS/ is reserved")
    if cfg.alarm_email is not None:
        _matches(cfg, "alarm_email", _EMAIL, "must be an e-mail address")
    _validate_backup_method(cfg)


def _validate_backup_method(cfg: EnvironmentConfig) -> None:
    """Incremental exports extend a full export, so they need backup_method export."""
    _require(
        cfg.backup_method in BACKUP_METHODS,
        cfg.name,
        "backup_method",
        f"must be one of {', '.join(BACKUP_METHODS)}, got {cfg.backup_method!r}",
    )
    _require(
        cfg.table_name != EXPORT_JOBS_FOLDER.rstrip("/"),
        cfg.name,
        "table_name",
        f"{cfg.table_name!r} is reserved: export backups in progress are kept under "
        f"<backup_prefix>{EXPORT_JOBS_FOLDER}",
    )
    if cfg.incremental_schedule is not None:
        _matches(
            cfg,
            "incremental_schedule",
            _SCHEDULE,
            "must be an EventBridge rate(...) or cron(...) expression or null",
        )
        _require(
            cfg.backup_method == "export",
            cfg.name,
            "incremental_schedule",
            'needs "backup_method": "export": incremental exports extend the newest full export backup',
        )


def _validate_object_lock(cfg: EnvironmentConfig) -> None:
    """Days and mode come together: a mode without days (or days without a mode) is a half-made decision."""
    if cfg.object_lock_days is None:
        _require(
            cfg.object_lock_mode is None, cfg.name, "object_lock_mode", "is set but object_lock_days is not"
        )
        return
    # 100 years: S3's own ceiling for a default retention.
    _in_range(cfg, "object_lock_days", 1, 36_500)
    _require(
        cfg.object_lock_mode in OBJECT_LOCK_MODES,
        cfg.name,
        "object_lock_mode",
        f"must be one of {sorted(OBJECT_LOCK_MODES)} when object_lock_days is set, "
        f"got {cfg.object_lock_mode!r}",
    )


def _validate_replica(env: str, replica: ReplicaConfig) -> None:
    """The destination must be a bucket ARN; account and region well formed; the key in that region."""
    _require(
        isinstance(replica.bucket_arn, str) and bool(_BUCKET_ARN.match(replica.bucket_arn)),
        env,
        "replica.bucket_arn",
        f"must be an S3 bucket ARN such as arn:aws:s3:::ledger-backups-replica, got {replica.bucket_arn!r}",
    )
    if replica.account is not None:
        _require(
            isinstance(replica.account, str) and bool(_ACCOUNT.match(replica.account)),
            env,
            "replica.account",
            f"must be a 12-digit AWS account id, got {replica.account!r}",
        )
    if replica.region is not None:
        _require(
            isinstance(replica.region, str) and bool(_REGION.match(replica.region)),
            env,
            "replica.region",
            f"must be an AWS region such as eu-central-1, got {replica.region!r}",
        )
    if replica.kms_key_arn is not None:
        key_region = _kms_key_region(env, "replica.kms_key_arn", replica.kms_key_arn)
        # S3 encrypts a replica with a key of the destination bucket's region.
        _require(
            replica.region is None or key_region == replica.region,
            env,
            "replica.kms_key_arn",
            f"is in {key_region}, but replica.region is {replica.region}: the key must be in the "
            "destination bucket's region",
        )


def _kms_key_region(env: str, key: str, value: Any) -> str:
    """The region of a KMS key ARN; an alias or anything else is refused (IAM grants name the key itself)."""
    match = _KMS_KEY_ARN.match(value) if isinstance(value, str) else None
    if match is None:
        raise ConfigError(
            f"environment {env!r}: {key}: must be a KMS key ARN (arn:aws:kms:<region>:<account>:key/<id>, "
            f"not an alias), got {value!r}"
        )
    return match["region"]


def _validate_kms_key(cfg: EnvironmentConfig) -> None:
    """Either "create" or the ARN of a key (not an alias: IAM grants on an alias do not cover the key)."""
    if cfg.kms_key == KMS_KEY_CREATE:
        return
    key_region = _kms_key_region(cfg.name, "kms_key", cfg.kms_key)
    _require(
        cfg.region is None or key_region == cfg.region,
        cfg.name,
        "kms_key",
        f"is in {key_region}, but the stack is pinned to {cfg.region}: S3 needs a key in the bucket's region",
    )


def parse_replica(env: str, raw: Any) -> ReplicaConfig:
    """Build the replica settings from their cdk.json object, rejecting unknown keys (typos)."""
    if not isinstance(raw, Mapping):
        raise ConfigError(
            f"environment {env!r}: replica: must be a JSON object or null, got {type(raw).__name__}"
        )
    unknown = sorted(set(raw) - _REPLICA_FIELDS)
    if unknown:
        raise ConfigError(
            f"environment {env!r}: replica: unknown keys {unknown}; allowed: {sorted(_REPLICA_FIELDS)}"
        )
    if "bucket_arn" not in raw:
        raise ConfigError(f"environment {env!r}: replica.bucket_arn is required")
    return ReplicaConfig(**raw)


_FIELDS = {f.name for f in dataclasses.fields(EnvironmentConfig)}
_REPLICA_FIELDS = {f.name for f in dataclasses.fields(ReplicaConfig)}


def parse_environment(name: str, raw: Any) -> EnvironmentConfig:
    """Build one EnvironmentConfig from its cdk.json entry, rejecting unknown keys (typos)."""
    if not isinstance(raw, Mapping):
        raise ConfigError(f"environment {name!r}: must be a JSON object, got {type(raw).__name__}")
    for key, replacement in RETIRED_KEYS.items():
        if key in raw:
            raise ConfigError(f"environment {name!r}: {key}: {replacement}")
    unknown = sorted(set(raw) - _FIELDS)
    if unknown:
        raise ConfigError(
            f"environment {name!r}: unknown keys {unknown}; allowed: {sorted(_FIELDS - {'name'})}"
        )
    if "name" in raw and raw["name"] != name:
        raise ConfigError(f"environment {name!r}: 'name' must equal its key or be omitted")
    if "table_name" not in raw:
        raise ConfigError(f"environment {name!r}: table_name is required")
    settings = {**raw, "name": name}
    if raw.get("replica") is not None:
        settings["replica"] = parse_replica(name, raw["replica"])
    return EnvironmentConfig(**settings)


def parse_environments(raw: Any) -> dict[str, EnvironmentConfig]:
    """Parse the whole ``environments`` context value; stack names must be unique."""
    if not isinstance(raw, Mapping) or not raw:
        raise ConfigError(f"context key {ENVIRONMENTS_CONTEXT_KEY!r} must be a non-empty JSON object")
    configs = {str(name): parse_environment(str(name), value) for name, value in raw.items()}
    stack_names = [cfg.stack_name for cfg in configs.values()]
    if len(set(stack_names)) != len(stack_names):
        raise ConfigError(f"stack names must be unique, got {stack_names}")
    return configs


def select_environments(raw_environments: Any, selected: Any) -> list[EnvironmentConfig]:
    """Return the environments to synthesize: all of them, or only the one named by ``-c env=NAME``."""
    configs = parse_environments(raw_environments)
    if selected is None or selected == "":
        return list(configs.values())
    if not isinstance(selected, str) or selected not in configs:
        raise ConfigError(f"-c {SELECTED_ENV_CONTEXT_KEY}={selected!r}: choose one of {sorted(configs)}")
    return [configs[selected]]
