"""A Lambda function with its own role and log group: no managed policies, logs only to its group."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from aws_cdk import Duration, RemovalPolicy, Size
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.bundling import LAMBDA_ARCHITECTURE, LAMBDA_RUNTIME
from infra.config import LOG_RETENTION_DAYS
from infra.nag import acknowledge


def retention_days(days: int) -> logs.RetentionDays:
    """The CDK enum member for validated config days (config.py's LOG_RETENTION_DAYS names them)."""
    return logs.RetentionDays[LOG_RETENTION_DAYS[days]]


class LedgerFunction(Construct):
    """One of the two functions, wired for Powertools (X-Ray tracing, JSON logs, EMF metrics).

    The role starts empty and gets only: writing to its own log group, X-Ray segments, sending failed
    async invocations to the dead-letter queue, and the statements passed in. Recursive loops are allowed:
    both functions continue themselves, capped by their own MAX_INVOCATIONS.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        function_name: str,
        description: str,
        code: lambda_.Code,
        handler: str,
        environment: Mapping[str, str],
        statements: Sequence[iam.PolicyStatement],
        memory_mb: int,
        timeout: Duration,
        log_retention: logs.RetentionDays,
        log_removal_policy: RemovalPolicy,
        failure_queue: sqs.IQueue,
        async_retry_attempts: int,
        ephemeral_storage_mib: int = 512,
    ) -> None:
        super().__init__(scope, construct_id)
        self.log_group = logs.LogGroup(
            self,
            "LogGroup",
            log_group_name=f"/aws/lambda/{function_name}",
            retention=log_retention,
            removal_policy=log_removal_policy,
        )
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"Execution role of {function_name} (least privilege, no managed policies)",
        )
        # The group exists before the function runs, so CreateLogGroup is not needed.
        self.log_group.grant_write(self.role)
        for statement in statements:
            self.role.add_to_principal_policy(statement)

        self.function = lambda_.Function(
            self,
            "Function",
            function_name=function_name,
            description=description,
            runtime=LAMBDA_RUNTIME,
            architecture=LAMBDA_ARCHITECTURE,
            code=code,
            handler=handler,
            memory_size=memory_mb,
            ephemeral_storage_size=Size.mebibytes(ephemeral_storage_mib),
            timeout=timeout,
            environment=dict(environment),
            role=self.role,
            log_group=self.log_group,
            tracing=lambda_.Tracing.ACTIVE,
            on_failure=destinations.SqsDestination(failure_queue),
            retry_attempts=async_retry_attempts,
            max_event_age=Duration.hours(6),
            # Lambda's recursive loop detection covers "loops comprised only of Lambda functions, which may
            # invoke each other synchronously or asynchronously", so a backup or restore invoking itself
            # (runtime/continuation.py) would be stopped after about 16 invocations with the default
            # Terminate. Allow lets long chains run; MAX_INVOCATIONS (cdk.json max_invocations) is the guard
            # rail AWS asks for in its place. See "Supported AWS services" in
            # https://docs.aws.amazon.com/lambda/latest/dg/invocation-recursion.html
            recursive_loop=lambda_.RecursiveLoop.ALLOW,
        )
        acknowledge(
            self.role,
            "AwsSolutions-IAM5[Resource::*]",
            "X-Ray PutTraceSegments/PutTelemetryRecords (added by active tracing) support no resource-level "
            "permissions; '*' is the only valid resource for them.",
        )
        acknowledge(
            self.function,
            "AwsSolutions-L1",
            f"{LAMBDA_RUNTIME.name} is pinned by the engine contract: the bundled wheels (pydantic_core, "
            "ijson) are cp313 builds; move to a newer runtime together with lambdas/requirements.txt.",
        )
