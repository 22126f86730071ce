"""Both functions: runtime, sizing, environment, log groups, the schedule, async failures."""

import json

import pytest
from aws_cdk import App, Stack
from aws_cdk import aws_logs as logs
from aws_cdk.assertions import Match, Template

from infra.config import LOG_RETENTION_DAYS_ALLOWED, EnvironmentConfig
from infra.functions import retention_days
from tests.infra import cfn
from tests.infra.conftest import ADOPTED, Synthesized, ids, template


@pytest.mark.parametrize("kind", ["backup", "restore"])
def test_functions_runtime_sizing_tracing_and_environment(
    synthesized: Synthesized, env: str, kind: str
) -> None:
    config = synthesized.configs[env]
    i = ids(synthesized, env)
    common = {
        "TABLE_NAME": config.table_name,
        "BACKUP_BUCKET": {"Ref": i["bucket"]},
        "BACKUP_PREFIX": config.backup_prefix,
        "POWERTOOLS_SERVICE_NAME": "ledger-backup",
        "POWERTOOLS_METRICS_NAMESPACE": "LedgerBackup",
        "POWERTOOLS_LOG_LEVEL": config.log_level,
        "CONTINUATION_MARGIN_SECONDS": "60",  # both continue past their timeout
        "MAX_INVOCATIONS": str(config.max_invocations),  # ... in chains no longer than this
    }
    # The backup's pruner keeps what the environment's keep_* say, after each successful backup.
    retention = {
        "KEEP_LAST": str(config.keep_last),
        "KEEP_DAILY": str(config.keep_daily),
        "KEEP_WEEKLY": str(config.keep_weekly),
        "KEEP_MONTHLY": str(config.keep_monthly),
    }
    extra = {"SCAN_SEGMENTS": "4", **retention} if kind == "backup" else {"RESTORE_WRITERS": "4"}
    if config.max_items_per_second is not None:
        extra["MAX_ITEMS_PER_SECOND"] = str(config.max_items_per_second)
    template(synthesized, env).has_resource_properties(
        "AWS::Lambda::Function",
        {
            "FunctionName": f"{config.function_name_prefix}-{kind}",
            "Runtime": "python3.13",
            "Architectures": ["arm64"],
            "Handler": f"{kind}_handler.handler",
            "MemorySize": config.lambda_memory_mb,
            "Timeout": 900,
            "TracingConfig": {"Mode": "Active"},
            "Environment": {"Variables": {**common, **extra}},
            "LoggingConfig": {"LogGroup": {"Ref": i[f"{kind}_logs"]}},
            "RecursiveLoop": "Allow",
        },
    )


def test_both_functions_allow_their_self_invocation_chains_capped_per_environment(
    synthesized: Synthesized, env: str
) -> None:
    """Lambda stops a function invoking itself after about 16 invocations unless RecursiveLoop is Allow;
    in its place each chain is capped by the environment's max_invocations (96 unless cdk.json says)."""
    config = synthesized.configs[env]
    functions = cfn.resources(synthesized.template_json(env), "AWS::Lambda::Function")
    assert len(functions) == 2
    for function in functions.values():
        properties = function["Properties"]
        assert properties["RecursiveLoop"] == "Allow"
        assert properties["Environment"]["Variables"]["MAX_INVOCATIONS"] == str(config.max_invocations)
    expected = {"dev": 96, "prod": 96, ADOPTED.name: 48}
    assert config.max_invocations == expected[env]


def test_memory_is_configurable_per_environment(synthesized: Synthesized) -> None:
    assert synthesized.configs["prod"].lambda_memory_mb == 1024
    template(synthesized, ADOPTED.name).has_resource_properties(
        "AWS::Lambda::Function", {"FunctionName": "ledger-backup-adopted-backup", "MemorySize": 2048}
    )


def test_log_groups_have_the_environment_retention(synthesized: Synthesized, env: str) -> None:
    config = synthesized.configs[env]
    t = synthesized.template_json(env)
    groups = cfn.resources(t, "AWS::Logs::LogGroup")
    assert len(groups) == 2
    for group in groups.values():
        assert group["Properties"]["RetentionInDays"] == config.log_retention_days
        assert group["DeletionPolicy"] == ("Retain" if config.retain_data else "Delete")


def test_daily_schedule_invokes_backup_with_retries_and_dead_letter(
    synthesized: Synthesized, env: str
) -> None:
    config = synthesized.configs[env]
    i = ids(synthesized, env)
    t = template(synthesized, env)
    t.resource_count_is("AWS::Events::Rule", 2)  # and the restore drill's (tests/infra/test_options.py)
    t.has_resource_properties(
        "AWS::Events::Rule",
        {
            "ScheduleExpression": config.backup_schedule,
            "State": "ENABLED",
            "Targets": [
                {
                    "Arn": {"Fn::GetAtt": [i["backup"], "Arn"]},
                    "Id": Match.any_value(),
                    "RetryPolicy": {"MaximumRetryAttempts": 2, "MaximumEventAgeInSeconds": 7200},
                    "DeadLetterConfig": {"Arn": {"Fn::GetAtt": [i["queue"], "Arn"]}},
                }
            ],
        },
    )
    t.has_resource_properties(
        "AWS::Lambda::Permission",
        {
            "Action": "lambda:InvokeFunction",
            "FunctionName": {"Fn::GetAtt": [i["backup"], "Arn"]},
            "Principal": "events.amazonaws.com",
            "SourceArn": {"Fn::GetAtt": [Match.any_value(), "Arn"]},
        },
    )


def test_cdk_json_schedules_are_once_a_day(cdk_configs: dict[str, EnvironmentConfig]) -> None:
    for config in cdk_configs.values():
        assert config.backup_schedule == "cron(0 3 * * ? *)", config.name


def test_restore_is_on_demand_but_for_the_drill(synthesized: Synthesized, env: str) -> None:
    t = synthesized.template_json(env)
    restore = ids(synthesized, env)["restore"]
    permissions = [
        p["Properties"]
        for p in cfn.resources(t, "AWS::Lambda::Permission").values()
        if restore in json.dumps(p["Properties"]["FunctionName"])
    ]
    rules = {
        rule_id: rule["Properties"]
        for rule_id, rule in cfn.resources(t, "AWS::Events::Rule").items()
        if restore in json.dumps(rule["Properties"]["Targets"])
    }
    # Only the drill rule may invoke it, and only with {"drill": true}; operators invoke with IAM.
    [(drill_id, drill)] = rules.items()
    assert [target["Input"] for target in drill["Targets"]] == ['{"drill":true}']
    assert [(p["Principal"], p["SourceArn"]) for p in permissions] == [
        ("events.amazonaws.com", {"Fn::GetAtt": [drill_id, "Arn"]})
    ]


def test_async_invocation_failures_go_to_the_dead_letter_queue(synthesized: Synthesized, env: str) -> None:
    """Both functions continue themselves asynchronously: the same retries, then the alarmed queue."""
    i = ids(synthesized, env)
    configs = cfn.resources(synthesized.template_json(env), "AWS::Lambda::EventInvokeConfig")
    by_function = {c["Properties"]["FunctionName"]["Ref"]: c["Properties"] for c in configs.values()}
    expected = {
        "Qualifier": "$LATEST",
        "MaximumRetryAttempts": 2,
        "MaximumEventAgeInSeconds": 21600,
        "DestinationConfig": {"OnFailure": {"Destination": {"Fn::GetAtt": [i["queue"], "Arn"]}}},
    }
    assert by_function == {
        i["backup"]: {"FunctionName": {"Ref": i["backup"]}, **expected},
        i["restore"]: {"FunctionName": {"Ref": i["restore"]}, **expected},
    }


def test_dead_letter_queue_is_encrypted_and_tls_only(synthesized: Synthesized, env: str) -> None:
    t = template(synthesized, env)
    t.has_resource_properties(
        "AWS::SQS::Queue", {"SqsManagedSseEnabled": True, "MessageRetentionPeriod": 1209600}
    )
    t.has_resource_properties(
        "AWS::SQS::QueuePolicy",
        {
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {"Effect": "Deny", "Condition": {"Bool": {"aws:SecureTransport": "false"}}}
                        )
                    ]
                )
            }
        },
    )


def test_every_allowed_log_retention_is_rendered_as_that_many_days() -> None:
    """config.py names the RetentionDays member of each period it allows; check each name against its days."""
    stack = Stack(App())
    for days in LOG_RETENTION_DAYS_ALLOWED:
        logs.LogGroup(stack, f"Days{days}", log_group_name=f"days-{days}", retention=retention_days(days))
    groups = Template.from_stack(stack).find_resources("AWS::Logs::LogGroup")
    rendered = {g["Properties"]["LogGroupName"]: g["Properties"]["RetentionInDays"] for g in groups.values()}
    assert rendered == {f"days-{days}": days for days in LOG_RETENTION_DAYS_ALLOWED}
