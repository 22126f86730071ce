"""cdk.json environments parse into validated settings; mistakes fail synth with a clear message."""

import re
from typing import Any

import pytest
from aws_cdk import App

from infra.application import environments_from_context
from infra.config import (
    ConfigError,
    EnvironmentConfig,
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
        ({"backup_retention_days": 0}, "backup_retention_days"),
        ({"backup_retention_days": True}, "backup_retention_days"),
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
