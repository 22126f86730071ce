"""cdk-nag (AwsSolutions pack) wiring and the one way this app acknowledges a finding.

Every acknowledgment names a single finding and carries a reason specific to it, so the audit trail in
the construct metadata says why each exception is acceptable.
"""

from __future__ import annotations

from typing import Any

from aws_cdk import Acknowledgment, Stack, Stage, Validations
from cdk_nag import AwsSolutionsChecks
from constructs import IConstruct

NAG_PACK = "AwsSolutions"


def acknowledge(construct: IConstruct, finding: str, reason: str) -> None:
    """Acknowledge one cdk-nag finding (``AwsSolutions-IAM5[Resource::...]``) on a construct, with why."""
    if not finding.startswith(f"{NAG_PACK}-"):
        raise ValueError(f"not an {NAG_PACK} finding id: {finding!r}")
    if len(reason.strip()) < 20:
        raise ValueError(f"acknowledging {finding} needs a specific reason, got {reason!r}")
    # The "<plugin>::" form is the one the validation report matches and lists under suppressedViolations.
    Validations.of(construct).acknowledge(Acknowledgment(id=f"{NAG_PACK}::{finding}", reason=reason))


def enable_nag(scope: Stage) -> None:
    """Run the AwsSolutions pack at synth: any unacknowledged finding fails `cdk synth`."""
    Validations.of(scope).add_plugins(AwsSolutionsChecks(scope))


def iam5_resource_finding(scope: IConstruct, resource: str) -> str:
    """The IAM5 finding id cdk-nag reports for a wildcard resource, e.g. ``<Bucket.Arn>/backups/*``.

    Rendered from the resolved token, so acknowledgments follow logical ids, partitions and pinned regions.
    """
    return f"{NAG_PACK}-IAM5[Resource::{render_intrinsic(Stack.of(scope).resolve(resource))}]"


def render_intrinsic(value: Any) -> str:
    """Render a resolved CloudFormation value the way cdk-nag prints it (Ref as <X>, GetAtt as <X.Attr>)."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and len(value) == 1:
        ((function, argument),) = value.items()
        if function == "Ref":
            return f"<{argument}>"
        if function == "Fn::GetAtt":
            return f"<{argument[0]}.{argument[1]}>"
        if function == "Fn::Join":
            separator, parts = argument
            return str(separator).join(render_intrinsic(part) for part in parts)
    raise ValueError(f"cannot render {value!r} as a cdk-nag resource")
