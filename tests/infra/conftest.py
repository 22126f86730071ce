"""Synthesize the CDK app once per session, as the CLI would (cdk.json context), with cdk-nag on.

Bundling is skipped here (``aws:cdk:bundling-stacks`` = []): only test_bundling.py pip-installs.
Besides cdk.json's environments, the session app holds one extra stack that adopts an existing table
in a pinned account/region with an alarm e-mail, so the other code paths are synthesized and checked too.
"""

import os

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

import json  # after the variable above: jsii reads it when it starts
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App
from aws_cdk.assertions import Template

from infra.application import REPO_ROOT, build_app
from infra.config import ENVIRONMENTS_CONTEXT_KEY, EnvironmentConfig, parse_environments
from tests.infra import cfn

ADOPTED = EnvironmentConfig(
    name="adopted",
    table_name="pipeline-ledger",
    existing_table=True,
    retain_data=True,
    account="123456789012",
    region="eu-west-1",
    alarm_email="ledger-oncall@example.com",
    backup_prefix="ledger-backups/",
    backup_schedule="rate(12 hours)",
    lambda_memory_mb=2048,
    max_items_per_second=500,
    max_invocations=48,
    log_retention_days=365,
)


def cdk_json_context() -> dict[str, Any]:
    """The context `cdk synth` passes to app.py: feature flags and the environments."""
    context: dict[str, Any] = json.loads((REPO_ROOT / "cdk.json").read_text())["context"]
    return context


@dataclass(frozen=True)
class Synthesized:
    """One synthesized cloud assembly and what the checks need from it."""

    outdir: Path
    configs: dict[str, EnvironmentConfig]
    validation_error: str | None

    def template_json(self, env: str) -> dict[str, Any]:
        """The CloudFormation template of one environment's stack, as written to the assembly."""
        path = self.outdir / f"{self.configs[env].stack_name}.template.json"
        data: dict[str, Any] = json.loads(path.read_text())
        return data

    def template(self, env: str) -> Template:
        """aws_cdk.assertions view of one environment's template."""
        return Template.from_json(self.template_json(env))

    def validation_report(self) -> dict[str, Any]:
        """The policy-validation report (cdk-nag results, including acknowledged findings)."""
        data: dict[str, Any] = json.loads((self.outdir / "validation-report.json").read_text())
        return data

    def manifest(self) -> dict[str, Any]:
        """The cloud assembly manifest (stack properties such as termination protection)."""
        data: dict[str, Any] = json.loads((self.outdir / "manifest.json").read_text())
        return data


def synthesize(outdir: Path, configs: dict[str, EnvironmentConfig], context: dict[str, Any]) -> Synthesized:
    """Build and synthesize; a cdk-nag failure is recorded (templates are still written) not raised."""
    app = App(context=context, outdir=str(outdir))
    build_app(app, list(configs.values()))
    try:
        app.synth()
    except RuntimeError as error:  # jsii surfaces ValidationFailed as RuntimeError
        return Synthesized(outdir, configs, str(error))
    return Synthesized(outdir, configs, None)


@pytest.fixture(scope="session")
def cdk_configs() -> dict[str, EnvironmentConfig]:
    """The environments defined in cdk.json."""
    return parse_environments(cdk_json_context()[ENVIRONMENTS_CONTEXT_KEY])


@pytest.fixture(scope="session")
def synthesized(
    tmp_path_factory: pytest.TempPathFactory, cdk_configs: dict[str, EnvironmentConfig]
) -> Synthesized:
    """cdk.json's environments plus the adopted-table variant, synthesized once without bundling."""
    configs = {**cdk_configs, ADOPTED.name: ADOPTED}
    assert ADOPTED.name not in cdk_configs
    context = {**cdk_json_context(), "aws:cdk:bundling-stacks": []}
    return synthesize(tmp_path_factory.mktemp("cdk.out"), configs, context)


# The environments the checks run in, and the readers shared by test_storage, test_functions,
# test_permissions, test_monitoring and test_stack.
ENVS = ["dev", "prod", ADOPTED.name]
CREATED_TABLE_ENVS = ["dev", "prod"]

_templates: dict[str, Template] = {}


def template(synthesized: Synthesized, env: str) -> Template:
    """assertions.Template per environment, built once (each costs a jsii round trip)."""
    if env not in _templates:
        _templates[env] = synthesized.template(env)
    return _templates[env]


@pytest.fixture(params=ENVS)
def env(request: pytest.FixtureRequest) -> str:
    """Every synthesized environment: dev and prod from cdk.json, plus the adopted-table variant."""
    return str(request.param)


def ids(synthesized: Synthesized, env: str) -> dict[str, str]:
    """Logical ids of the resources the checks refer to."""
    t = synthesized.template_json(env)
    config = synthesized.configs[env]
    prefix = config.function_name_prefix
    return {
        "bucket": cfn.only(t, "AWS::S3::Bucket", VersioningConfiguration={"Status": "Enabled"}),
        "logs_bucket": next(k for k in cfn.resources(t, "AWS::S3::Bucket") if "AccessLogs" in k),
        "queue": cfn.only(t, "AWS::SQS::Queue"),
        "topic": cfn.only(t, "AWS::SNS::Topic"),
        "key": cfn.only(t, "AWS::KMS::Key"),
        "backup": cfn.function_id(t, f"{prefix}-backup"),
        "restore": cfn.function_id(t, f"{prefix}-restore"),
        "backup_role": cfn.function_role_id(t, f"{prefix}-backup"),
        "restore_role": cfn.function_role_id(t, f"{prefix}-restore"),
        "backup_logs": cfn.only(t, "AWS::Logs::LogGroup", LogGroupName=f"/aws/lambda/{prefix}-backup"),
        "restore_logs": cfn.only(t, "AWS::Logs::LogGroup", LogGroupName=f"/aws/lambda/{prefix}-restore"),
    }
