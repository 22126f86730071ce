"""cdk-nag (AwsSolutions pack) wiring and the one way this app acknowledges a finding.

Every acknowledgment names a single finding and carries a reason specific to it, so the audit trail in
the construct metadata says why each exception is acceptable.
"""

from __future__ import annotations

from aws_cdk import Acknowledgment, Stage, Validations
from cdk_nag import AwsSolutionsChecks
from constructs import IConstruct

NAG_PACK = "AwsSolutions"


def acknowledge(construct: IConstruct, finding: str, reason: str) -> None:
    """Acknowledge one cdk-nag finding (``AwsSolutions-IAM5[Resource::...]``) on a construct, with a reason."""
    if not finding.startswith(f"{NAG_PACK}-"):
        raise ValueError(f"not an {NAG_PACK} finding id: {finding!r}")
    if len(reason.strip()) < 20:
        raise ValueError(f"acknowledging {finding} needs a specific reason, got {reason!r}")
    Validations.of(construct).acknowledge(Acknowledgment(id=finding, reason=reason))


def enable_nag(scope: Stage) -> None:
    """Run the AwsSolutions pack at synth: any unacknowledged finding fails `cdk synth`."""
    Validations.of(scope).add_plugins(AwsSolutionsChecks(scope))
