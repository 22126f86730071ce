"""cdk.json environments parse into validated settings; mistakes fail synth with a clear message."""

import re
from typing import Any

import pytest
from aws_cdk import App

from infra.application import environments_from_context
from infra.config import (
    ConfigError,
    EnvironmentConfig,
    ReplicaConfig,
    parse_environment,
    parse_environments,
    select_environments,
)
from tests.infra.conftest import cdk_json_context

MINIMAL = {"table_name": "pipeline-ledger"}


def test_cdk_json_defines_dev_and_prod_as_distinct_targets() -> None:
    context = cdk_json_context()
    configs = parse_environments(context["environments"])
    assert {"dev", "prod"} <= set(configs)
    assert configs["dev"].stack_name == "LedgerBackup-dev"
    assert configs["prod"].stack_name == "LedgerBackup-prod"
    assert configs["prod"].retain_data is True
    assert configs["dev"].retain_data is False
    assert configs["dev"].table_name != configs["prod"].table_name
    # The CLI must not try the network (notices, telemetry): see shared notes.
    assert context["cli-telemetry"] is False


def test_defaults_match_the_engine_contract() -> None:
    config = parse_environment("prod", MINIMAL)
    assert config.backup_prefix == "backups/"
    assert config.lambda_memory_mb == 1024
    assert config.lambda_timeout_minutes == 15
    assert config.scan_segments == 4
    assert config.restore_writers == 4
    assert config.continuation_margin_seconds == 60
    assert config.max_items_per_second is None
    assert config.max_invocations == 96
    assert config.service_name == "ledger-backup"
    assert config.metrics_namespace == "LedgerBackup"
    assert config.stale_after_hours == 26
    assert config.backup_schedule == "cron(0 3 * * ? *)"
    assert config.existing_table is False
    assert config.function_name_prefix == "ledger-backup-prod"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"tabel_name": "x"}, "unknown keys ['tabel_name']"),
        ({"backup_schedule": "daily"}, "backup_schedule"),
        ({"backup_schedule": "cron(0 3 * * ?)"}, "backup_schedule"),
        ({"backup_prefix": "backups"}, "backup_prefix"),
        ({"backup_prefix": "/backups/"}, "backup_prefix"),
        ({"log_retention_days": 10}, "log_retention_days"),
        ({"keep_last": 0}, "keep_last: must be an integer in [1, 10000], got 0"),
        ({"keep_last": "7"}, "keep_last"),
        ({"keep_daily": -1}, "keep_daily: must be an integer in [0, 3650], got -1"),
        ({"keep_weekly": 1.5}, "keep_weekly"),
        ({"keep_monthly": True}, "keep_monthly"),
        ({"restore_records_days": 0}, "restore_records_days"),
        ({"object_lock_days": 0, "object_lock_mode": "GOVERNANCE"}, "object_lock_days"),
        ({"object_lock_days": 30}, "object_lock_mode: must be one of ['COMPLIANCE', 'GOVERNANCE']"),
        ({"object_lock_days": 30, "object_lock_mode": "governance"}, "object_lock_mode"),
        ({"object_lock_mode": "COMPLIANCE"}, "object_lock_mode: is set but object_lock_days is not"),
        ({"kms_key": "alias/ledger"}, "kms_key: must be a KMS key ARN"),
        ({"kms_key": "arn:aws:kms:eu-west-1:123456789012:alias/ledger"}, "kms_key: must be a KMS key ARN"),
        (
            {"region": "eu-west-1", "kms_key": "arn:aws:kms:us-east-1:123456789012:key/abcd-1234"},
            "kms_key: is in us-east-1, but the stack is pinned to eu-west-1",
        ),
        ({"replica": "arn:aws:s3:::replica"}, "replica: must be a JSON object or null"),
        ({"replica": {}}, "replica.bucket_arn is required"),
        ({"replica": {"bucket_arn": "arn:aws:s3:::r", "acount": "1"}}, "replica: unknown keys ['acount']"),
        ({"replica": {"bucket_arn": "s3://replica"}}, "replica.bucket_arn: must be an S3 bucket ARN"),
        ({"replica": {"bucket_arn": "arn:aws:s3:::replica", "account": "42"}}, "replica.account"),
        ({"replica": {"bucket_arn": "arn:aws:s3:::replica", "region": "Frankfurt"}}, "replica.region"),
        (
            {
                "replica": {"bucket_arn": "arn:aws:s3:::replica", "kms_key_arn": "alias/x"},
                "kms_key": "create",
            },
            "replica.kms_key_arn: must be a KMS key ARN",
        ),
        (
            {
                "kms_key": "create",
                "replica": {
                    "bucket_arn": "arn:aws:s3:::replica",
                    "region": "eu-central-1",
                    "kms_key_arn": "arn:aws:kms:eu-west-1:123456789012:key/abcd-1234",
                },
            },
            "replica.kms_key_arn: is in eu-west-1, but replica.region is eu-central-1",
        ),
        (
            {"kms_key": "create", "replica": {"bucket_arn": "arn:aws:s3:::replica"}},
            "replica.kms_key_arn: is required with kms_key",
        ),
        (
            {
                "replica": {
                    "bucket_arn": "arn:aws:s3:::replica",
                    "kms_key_arn": "arn:aws:kms:eu-west-1:123456789012:key/abcd-1234",
                }
            },
            "replica.kms_key_arn: applies only with kms_key",
        ),
        ({"drill_schedule": "weekly"}, "drill_schedule"),
        (
            {"drill_schedule": "off"},
            "drill_schedule: must be an EventBridge rate(...) or cron(...) expression",
        ),
        ({"drill_stale_after_days": 1}, "drill_stale_after_days: must be an integer in [2, 8], got 1"),
        ({"drill_stale_after_days": 9}, "drill_stale_after_days: must be an integer in [2, 8], got 9"),
        ({"lambda_timeout_minutes": 16}, "lambda_timeout_minutes"),
        ({"lambda_memory_mb": 64}, "lambda_memory_mb"),
        ({"stale_after_hours": 169}, "stale_after_hours"),
        ({"log_level": "VERBOSE"}, "log_level"),
        ({"table_name": "a b"}, "table_name"),
        ({"table_name": "restores"}, "'restores' is reserved"),
        ({"account": "12345"}, "account"),
        ({"region": "Europe"}, "region"),
        ({"alarm_email": "not-an-address"}, "alarm_email"),
        ({"existing_table": "yes"}, "existing_table"),
        ({"metrics_namespace": "AWS/Lambda"}, "metrics_namespace"),
        ({"continuation_margin_seconds": 5}, "continuation_margin_seconds"),
        ({"lambda_timeout_minutes": 2, "continuation_margin_seconds": 90}, "continuation_margin_seconds"),
        ({"max_items_per_second": 0}, "max_items_per_second"),
        ({"max_invocations": 0}, "max_invocations: must be an integer in [1, 1000], got 0"),
        ({"max_invocations": 1001}, "max_invocations: must be an integer in [1, 1000], got 1001"),
        ({"max_invocations": "96"}, "max_invocations: must be an integer in [1, 1000], got '96'"),
        ({"max_invocations": True}, "max_invocations"),
        ({"max_invocations": 9.5}, "max_invocations"),
    ],
)
def test_invalid_settings_are_rejected_naming_the_key(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=rf"environment 'prod'.*{re.escape(message)}"):
        parse_environment("prod", {**MINIMAL, **changes})


@pytest.mark.parametrize("value", [1, 16, 96, 1000])
def test_max_invocations_within_its_range_is_accepted(value: int) -> None:
    assert parse_environment("prod", {**MINIMAL, "max_invocations": value}).max_invocations == value


def test_backup_retention_days_is_refused_naming_what_replaced_it() -> None:
    with pytest.raises(
        ConfigError,
        match=r"environment 'prod': backup_retention_days: was replaced by keep_last, keep_daily, "
        r"keep_weekly and keep_monthly",
    ):
        parse_environment("prod", {**MINIMAL, "backup_retention_days": 35})


def test_bucket_options_default_to_off_and_drills_to_weekly() -> None:
    config = parse_environment("prod", MINIMAL)
    assert (config.keep_last, config.keep_daily, config.keep_weekly, config.keep_monthly) == (7, 14, 8, 12)
    assert (config.object_lock_days, config.object_lock_mode, config.replica, config.kms_key) == (
        None,
        None,
        None,
        None,
    )
    assert config.drill_schedule == "cron(0 5 ? * SUN *)"
    assert config.drill_stale_after_days == 8
    assert config.restore_records_days == 30


def test_every_bucket_option_parses() -> None:
    key = "arn:aws:kms:eu-central-1:210987654321:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    config = parse_environment(
        "prod",
        {
            **MINIMAL,
            "keep_daily": 0,
            "object_lock_days": 30,
            "object_lock_mode": "COMPLIANCE",
            "kms_key": "create",
            "replica": {
                "bucket_arn": "arn:aws:s3:::ledger-replica",
                "account": "210987654321",
                "region": "eu-central-1",
                "kms_key_arn": key,
            },
            "drill_schedule": None,
            "drill_stale_after_days": 2,
        },
    )
    assert config.replica == ReplicaConfig("arn:aws:s3:::ledger-replica", "210987654321", "eu-central-1", key)
    assert config.replica.bucket_name == "ledger-replica"
    assert (config.keep_daily, config.object_lock_days, config.object_lock_mode) == (0, 30, "COMPLIANCE")
    assert (config.drill_schedule, config.drill_stale_after_days) == (None, 2)


def test_table_name_is_required() -> None:
    with pytest.raises(ConfigError, match="table_name is required"):
        parse_environment("dev", {})


def test_valid_rate_and_cron_schedules_are_accepted() -> None:
    for schedule in ("rate(1 day)", "rate(12 hours)", "cron(30 2 * * ? *)", "cron(0 3 ? * MON-FRI *)"):
        assert parse_environment("dev", {**MINIMAL, "backup_schedule": schedule}).backup_schedule == schedule


def test_env_selector_picks_one_environment_or_all() -> None:
    raw = {"dev": {"table_name": "ledger-dev"}, "prod": {"table_name": "ledger"}}
    assert [c.name for c in select_environments(raw, None)] == ["dev", "prod"]
    assert [c.name for c in select_environments(raw, "prod")] == ["prod"]
    with pytest.raises(ConfigError, match=r"choose one of \['dev', 'prod'\]"):
        select_environments(raw, "staging")


def test_stack_names_must_be_unique() -> None:
    raw = {
        "a": {"table_name": "ledger-a", "stack_name": "Same"},
        "b": {"table_name": "ledger-b", "stack_name": "Same"},
    }
    with pytest.raises(ConfigError, match="unique"):
        parse_environments(raw)


def test_config_is_immutable() -> None:
    config = EnvironmentConfig(name="dev", table_name="ledger-dev")
    with pytest.raises(AttributeError):
        config.table_name = "other"  # type: ignore[misc]


def test_app_reads_environments_and_selector_from_cdk_context() -> None:
    raw = {"dev": {"table_name": "ledger-dev"}, "prod": {"table_name": "ledger"}}
    assert [c.name for c in environments_from_context(App(context={"environments": raw}))] == ["dev", "prod"]
    only_prod = App(context={"environments": raw, "env": "prod"})
    assert [c.stack_name for c in environments_from_context(only_prod)] == ["LedgerBackup-prod"]
