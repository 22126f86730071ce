"""The stack as deployed: its outputs, termination protection and account/region."""

from typing import Any

from aws_cdk.assertions import Match

from tests.infra.conftest import ADOPTED, Synthesized, ids, template


def test_outputs_name_the_functions(synthesized: Synthesized, env: str) -> None:
    i = ids(synthesized, env)
    t = template(synthesized, env)
    t.has_output("BackupFunctionName", {"Value": {"Ref": i["backup"]}})
    t.has_output(
        "RestoreFunctionName",
        {"Value": {"Ref": i["restore"]}, "Description": Match.string_like_regexp("aws lambda invoke")},
    )
    t.has_output("BackupBucketName", {"Value": {"Ref": i["bucket"]}})
    t.has_output("AlarmTopicArn", {"Value": {"Ref": i["topic"]}})


def _stack_artifact(synthesized: Synthesized, env: str) -> dict[str, Any]:
    artifact: dict[str, Any] = synthesized.manifest()["artifacts"][synthesized.configs[env].stack_name]
    return artifact


def test_prod_stacks_are_termination_protected(synthesized: Synthesized) -> None:
    assert _stack_artifact(synthesized, "prod")["properties"]["terminationProtection"] is True
    assert not _stack_artifact(synthesized, "dev")["properties"].get("terminationProtection", False)


def test_stack_environment_pinned_only_when_configured(synthesized: Synthesized, env: str) -> None:
    config = synthesized.configs[env]
    expected = f"aws://{config.account or 'unknown-account'}/{config.region or 'unknown-region'}"
    assert _stack_artifact(synthesized, env)["environment"] == expected
    if env == ADOPTED.name:
        assert expected == "aws://123456789012/eu-west-1"
