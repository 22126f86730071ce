"""backup_method and incremental_schedule: validated per environment; an export stack's grants and rules.

One stack of its own (the adopted table, export with hourly incrementals), synthesized with cdk-nag on.
"""

from typing import Any

import pytest
from aws_cdk.assertions import Match, Template

from infra.config import ConfigError, EnvironmentConfig, parse_environment
from tests.infra.conftest import Synthesized, cdk_json_context, synthesize, template

EXPORTED = EnvironmentConfig(
    name="exported",
    table_name="pipeline-ledger",
    existing_table=True,
    backup_method="export",
    incremental_schedule="rate(1 hour)",
)


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    context = {**cdk_json_context(), "aws:cdk:bundling-stacks": []}
    return synthesize(tmp_path_factory.mktemp("cdk.out"), {EXPORTED.name: EXPORTED}, context)


@pytest.fixture(scope="module")
def export_template(exported: Synthesized) -> Template:
    assert exported.validation_error is None, exported.validation_error
    return exported.template(EXPORTED.name)


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        (
            {"backup_method": "snapshot"},
            "environment 'x': backup_method: must be one of scan, export, got 'snapshot'",
        ),
        (
            {"incremental_schedule": "rate(1 hour)"},
            'environment \'x\': incremental_schedule: needs "backup_method": "export"',
        ),
        (
            {"backup_method": "export", "incremental_schedule": "hourly"},
            "environment 'x': incremental_schedule: must be an EventBridge rate(...) or cron(...) expression",
        ),
        ({"table_name": "export-jobs"}, "environment 'x': table_name: 'export-jobs' is reserved"),
    ],
)
def test_bad_export_settings_name_the_environment_and_the_key(settings: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as refused:
        parse_environment("x", {"table_name": "pipeline-ledger", **settings})
    assert str(refused.value).startswith(message)


def test_scan_is_the_default() -> None:
    config = parse_environment("x", {"table_name": "pipeline-ledger"})
    assert (config.backup_method, config.incremental_schedule) == ("scan", None)


def test_the_backup_function_may_export_the_table_and_follow_its_exports_only(
    export_template: Template,
) -> None:
    export_template.has_resource_properties(
        "AWS::Lambda::Function",
        {"Environment": {"Variables": Match.object_like({"BACKUP_METHOD": "export"})}},
    )
    statements = [
        statement
        for policy in export_template.find_resources("AWS::IAM::Policy").values()
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        if statement.get("Sid") in ("ExportLedgerTable", "DescribeLedgerExports", "ExportObjects")
    ]
    by_sid = {statement["Sid"]: statement for statement in statements}
    assert by_sid["ExportLedgerTable"]["Action"] == [
        "dynamodb:DescribeContinuousBackups",
        "dynamodb:ExportTableToPointInTime",
    ]
    assert by_sid["DescribeLedgerExports"]["Action"] == "dynamodb:DescribeExport"
    assert str(by_sid["DescribeLedgerExports"]["Resource"]).endswith("/export/*']]}")
    assert by_sid["ExportObjects"]["Action"] == ["s3:AbortMultipartUpload", "s3:PutObject", "s3:PutObjectAcl"]


def test_a_poll_rule_and_the_incremental_rule_invoke_the_backup_function(export_template: Template) -> None:
    rules = export_template.find_resources("AWS::Events::Rule")
    inputs = {
        rule["Properties"]["ScheduleExpression"]: rule["Properties"]["Targets"][0].get("Input")
        for rule in rules.values()
    }
    assert inputs["rate(5 minutes)"] == '{"export_poll":true}'
    assert inputs["rate(1 hour)"] == '{"incremental":true}'


def test_a_scan_stack_has_no_export_grant_or_rule(synthesized: Synthesized) -> None:
    dev = template(synthesized, "dev")
    policies = dev.find_resources("AWS::IAM::Policy").values()
    sids = {s.get("Sid") for p in policies for s in p["Properties"]["PolicyDocument"]["Statement"]}
    assert "ExportLedgerTable" not in sids
    assert "BackupObjects" in sids
    inputs = [
        r["Properties"]["Targets"][0].get("Input") for r in dev.find_resources("AWS::Events::Rule").values()
    ]
    assert '{"export_poll":true}' not in inputs
