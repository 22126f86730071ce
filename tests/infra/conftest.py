"""Synthesize the CDK app once per session, as the CLI would (cdk.json context), with cdk-nag on.

Bundling is skipped here (``aws:cdk:bundling-stacks`` = []): only test_bundling.py pip-installs.
Besides cdk.json's environments, the session app holds one extra stack that adopts an existing table
in a pinned account/region with an alarm e-mail, and three with the bucket options (Object Lock in each
mode, replication with and without another account and KMS, a created and an imported KMS key, no drill
schedule), so every code path is synthesized, and checked by cdk-nag and cfn-lint, in one synth.
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
from infra.config import ENVIRONMENTS_CONTEXT_KEY, EnvironmentConfig, ReplicaConfig, parse_environments
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
REPLICA_KEY = "arn:aws:kms:eu-central-1:210987654321:key/1234abcd-12ab-34cd-56ef-1234567890ab"
LOCKED = EnvironmentConfig(
    name="locked",
    table_name="pipeline-ledger-locked",
    object_lock_days=30,
    object_lock_mode="COMPLIANCE",
    kms_key="create",
    replica=ReplicaConfig(
        bucket_arn="arn:aws:s3:::ledger-backups-replica",
        account="210987654321",
        region="eu-central-1",
        kms_key_arn=REPLICA_KEY,
    ),
    drill_stale_after_days=4,
)
"""Every option on: COMPLIANCE lock, a key of the stack, a replica in another account and region under KMS."""
IMPORTED_KEY = "arn:aws:kms:eu-west-1:123456789012:key/0a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d"
GOVERNED = EnvironmentConfig(
    name="governed",
    table_name="pipeline-ledger-governed",
    account="123456789012",
    region="eu-west-1",
    object_lock_days=7,
    object_lock_mode="GOVERNANCE",
    kms_key=IMPORTED_KEY,
    replica=ReplicaConfig(
        bucket_arn="arn:aws:s3:::ledger-backups-governed-replica",
        kms_key_arn="arn:aws:kms:eu-west-2:123456789012:key/5d4c3b2a-1f0e-4d9c-8b7a-6f5e4d3c2b1a",
    ),
)
"""GOVERNANCE lock, an imported key, a replica in this account under KMS, region not named."""
REPLICATED = EnvironmentConfig(
    name="replicated",
    table_name="pipeline-ledger-replicated",
    replica=ReplicaConfig(bucket_arn="arn:aws:s3:::ledger-backups-plain-replica"),
    drill_schedule=None,
)
"""No lock, SSE-S3, a replica in this account without KMS, and no drill schedule."""
OPTION_CONFIGS = (LOCKED, GOVERNED, REPLICATED)


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
    """cdk.json's environments plus the adopted-table and bucket-option variants, synthesized once."""
    extra = {c.name: c for c in (ADOPTED, *OPTION_CONFIGS)}
    configs = {**cdk_configs, **extra}
    assert not set(extra) & set(cdk_configs)
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
        # The alarm topic's key (a bucket key of kms_key "create" is the other one).
        "key": next(k for k in cfn.resources(t, "AWS::KMS::Key") if k.startswith("AlarmsTopicKey")),
        "backup": cfn.function_id(t, f"{prefix}-backup"),
        "restore": cfn.function_id(t, f"{prefix}-restore"),
        "backup_role": cfn.function_role_id(t, f"{prefix}-backup"),
        "restore_role": cfn.function_role_id(t, f"{prefix}-restore"),
        "backup_logs": cfn.only(t, "AWS::Logs::LogGroup", LogGroupName=f"/aws/lambda/{prefix}-backup"),
        "restore_logs": cfn.only(t, "AWS::Logs::LogGroup", LogGroupName=f"/aws/lambda/{prefix}-restore"),
    }
