"""cdk-nag (AwsSolutions) passes with only reasoned acknowledgments; cfn-lint finds no errors."""

import json
from typing import Any

import pytest
from cfnlint.api import ManualArgs, lint  # type: ignore[import-untyped]

from tests.infra.conftest import ADOPTED, OPTION_CONFIGS, Synthesized

# Rule families this app acknowledges, each with a reason in code (see infra/stack.py, infra/functions.py).
EXPECTED_ACKNOWLEDGED = {"AwsSolutions-IAM5", "AwsSolutions-L1", "AwsSolutions-SQS3"}
# CDK itself emits an explicit DependsOn on the role next to the GetAtt; harmless, so tolerated.
TOLERATED_LINT_WARNINGS = {"W3005"}


def _nag_report(synthesized: Synthesized) -> dict[str, Any]:
    """The AwsSolutions section of the validation report."""
    reports: list[dict[str, Any]] = [
        r for r in synthesized.validation_report()["pluginReports"] if r["pluginName"] == "AwsSolutions"
    ]
    assert len(reports) == 1, "the AwsSolutions pack did not run"
    return reports[0]


def test_cdk_nag_has_no_unacknowledged_findings(synthesized: Synthesized) -> None:
    assert synthesized.validation_error is None, synthesized.validation_error
    report = _nag_report(synthesized)
    assert report["conclusion"] == "success"
    assert report["violations"] == []


def test_every_acknowledged_finding_is_expected_and_has_a_reason(synthesized: Synthesized) -> None:
    suppressed = _nag_report(synthesized)["suppressedViolations"]
    families = {v["ruleName"].split("[")[0] for v in suppressed}
    assert families == EXPECTED_ACKNOWLEDGED
    for violation in suppressed:
        assert len(violation["reason"]) >= 60, violation["ruleName"]
        assert violation["acknowledgedId"] == f"AwsSolutions::{violation['ruleName']}"
    # '*' only for X-Ray, else a wildcard ending a named prefix: backup objects (restore progress among
    # them) or <ledger>* tables.
    narrow = tuple(f"/{c.backup_prefix}*" for c in synthesized.configs.values())
    narrow += tuple(f"/{c.backup_prefix}restores/*" for c in synthesized.configs.values())
    narrow += tuple(f":table/{c.table_name}*" for c in synthesized.configs.values())
    narrow += (":log-group:/aws-dynamodb/*",)  # ImportTable's CloudWatch log (restore method "import")
    for rule in {v["ruleName"] for v in suppressed if v["ruleName"].startswith("AwsSolutions-IAM5")}:
        assert rule.startswith("AwsSolutions-IAM5[Resource::"), rule  # never a wildcard action
        resource = rule.removeprefix("AwsSolutions-IAM5[Resource::").removesuffix("]")
        assert resource == "*" or resource.endswith(narrow), rule


def test_no_acknowledgment_is_stale(synthesized: Synthesized) -> None:
    """Each acknowledgment recorded in the construct metadata matched a real finding."""
    suppressed = {
        (v["acknowledgedAt"], v["acknowledgedId"]) for v in _nag_report(synthesized)["suppressedViolations"]
    }
    recorded: set[tuple[str, str]] = set()
    for config in synthesized.configs.values():
        metadata = json.loads((synthesized.outdir / f"{config.stack_name}.metadata.json").read_text())
        for path, entries in metadata.items():
            for entry in entries:
                if entry["type"] == "aws:cdk:acknowledged-rules":
                    recorded |= {(path.lstrip("/"), rule) for rule in entry["data"]}
    assert recorded
    assert recorded == suppressed


@pytest.mark.parametrize("env", ["dev", "prod", ADOPTED.name, *(c.name for c in OPTION_CONFIGS)])
def test_cfn_lint_finds_no_errors(synthesized: Synthesized, env: str) -> None:
    region = synthesized.configs[env].region or "us-east-1"
    body = json.dumps(synthesized.template_json(env))
    matches = lint(body, config=ManualArgs(regions=[region]))
    errors = [f"{m.rule.id} {m.message} at {m.path}" for m in matches if m.rule.id.startswith("E")]
    assert errors == []
    unexpected = [f"{m.rule.id} {m.message}" for m in matches if m.rule.id not in TOLERATED_LINT_WARNINGS]
    assert unexpected == []
