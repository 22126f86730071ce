"""Every AWS call the Lambda handlers make, checked against the IAM policy of the deployed function's role.

- Record (`CallLog`): while a handler runs, a ``before-parameter-build`` handler on boto3's default
  session sees every call of every client made meanwhile (the handlers make theirs per invocation,
  continuation's Lambda client included): service, operation, region and parameters, the latter
  after ``provide-client-params`` (so TextBatchSender's private body parameter is already gone).
- Map (`permissions`): each call becomes the IAM actions and resource ARNs AWS authorizes it
  against, from the Service Authorization Reference's "API operations defined by ..." tables
  (https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazondynamodb.html,
  .../list_amazons3.html, .../list_awslambda.html). An operation outside the table, or a parameter
  that would need another permission (a VersionId, an ACL, a KMS key ...), is a failure: a new kind
  of call can never pass unchecked.
- Policy (`DeployedRoles`): the stack synthesized once, for a made-up account and the tests'
  region, with a placeholder table name (see `DeployedRoles` for why and how the test's names go in).
- Evaluate (`RolePolicy`): moto's `IAMPolicy.is_action_permitted` decides, statement by statement,
  whether Action and Resource match (moto 5.2.5 evaluates only StringEquals conditions, and only on
  values passed in; it treats ``*`` as the only wildcard and the rest of a pattern as a regular
  expression, so patterns are checked to hold no other regex character). Conditions are evaluated
  here for the one key a call's parameters give (``s3:prefix`` of a listing); a statement whose
  condition needs anything else (``aws:ResourceTag/...``) allows only "if the condition holds",
  which the report names instead of counting it as proven.
"""

from __future__ import annotations

import functools
import json
import os
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
import pytest

from infra.config import EnvironmentConfig
from ledger_backup.contract import DEFAULT_BACKUP_PREFIX, ENV_BACKUP_BUCKET, ENV_BACKUP_PREFIX, ENV_TABLE_NAME

if TYPE_CHECKING:
    from botocore.model import OperationModel

ACCOUNT = "123456789012"  # made up; devtools.lambda_context's function ARNs use it too
REGION = "us-east-1"  # devtools.local_aws sets AWS_REGION to it
PLACEHOLDER_TABLE = "iam-check-ledger"
"""The table name the stack is synthesized with; each function run's TABLE_NAME takes its place."""
FUNCTIONS = ("backup", "restore")

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]


class UnmappedCall(Exception):
    """A call the mapping table cannot translate into IAM actions: add it (with its reference) first."""


@dataclass(frozen=True)
class FunctionRun:
    """Which function made a call, with the table, bucket and prefix the test configured it with."""

    function: str
    table: str
    bucket: str
    prefix: str


@dataclass(frozen=True)
class Permission:
    """One (IAM action, resource ARN) a call is authorized against, with the condition keys it sets."""

    action: str
    resource: str
    context: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Call:
    """One API call made while a handler ran; `unmapped` says why it could not be translated."""

    run: FunctionRun
    operation: str
    permissions: tuple[Permission, ...]
    unmapped: str | None = None


# botocore "service.Operation" -> the IAM action it needs (Service Authorization Reference, above).
# Only what the handlers call: anything else is reported as unmapped until it is added here.
ACTIONS: Mapping[str, str] = {
    "dynamodb.BatchGetItem": "dynamodb:BatchGetItem",
    "dynamodb.BatchWriteItem": "dynamodb:BatchWriteItem",
    "dynamodb.CreateTable": "dynamodb:CreateTable",  # with Tags also dynamodb:TagResource
    "dynamodb.DeleteTable": "dynamodb:DeleteTable",
    "dynamodb.DescribeContinuousBackups": "dynamodb:DescribeContinuousBackups",
    "dynamodb.DescribeExport": "dynamodb:DescribeExport",  # on the export's ARN
    "dynamodb.DescribeImport": "dynamodb:DescribeImport",  # on the import's ARN (table/<name>/import/<id>)
    "dynamodb.DescribeTable": "dynamodb:DescribeTable",  # the table_exists/not_exists waiters too
    "dynamodb.DescribeTimeToLive": "dynamodb:DescribeTimeToLive",
    # DynamoDB writes the export's objects with the caller's S3 permissions too (EXPORT_WRITES)
    "dynamodb.ExportTableToPointInTime": "dynamodb:ExportTableToPointInTime",
    # DynamoDB reads the import's objects and writes its log with the caller's permissions too (_import_table)
    "dynamodb.ImportTable": "dynamodb:ImportTable",
    "dynamodb.PutItem": "dynamodb:PutItem",
    "dynamodb.Scan": "dynamodb:Scan",
    "dynamodb.TagResource": "dynamodb:TagResource",  # on ResourceArn
    "dynamodb.UpdateTimeToLive": "dynamodb:UpdateTimeToLive",
    "s3.AbortMultipartUpload": "s3:AbortMultipartUpload",
    "s3.CompleteMultipartUpload": "s3:PutObject",
    "s3.CreateMultipartUpload": "s3:PutObject",
    "s3.DeleteObjects": "s3:DeleteObject",  # on each key deleted
    "s3.GetObject": "s3:GetObject",
    "s3.GetObjectLockConfiguration": "s3:GetBucketObjectLockConfiguration",  # on the bucket
    "s3.HeadObject": "s3:GetObject",
    "s3.ListObjectsV2": "s3:ListBucket",  # on the bucket, with s3:prefix
    "s3.PutObject": "s3:PutObject",
    "s3.UploadPart": "s3:PutObject",
    "lambda.Invoke": "lambda:InvokeFunction",
}
# Parameters with which a call needs a permission the table above does not give it (object versions,
# ACLs, object tags, object lock, KMS keys, resource policies): refused, not guessed.
_OTHER_PERMISSION_PARAMETERS: Mapping[str, frozenset[str]] = {
    "s3": frozenset(
        {
            "VersionId",
            "ACL",
            "GrantFullControl",
            "GrantRead",
            "GrantReadACP",
            "GrantWriteACP",
            "Tagging",
            "ObjectLockMode",
            "ObjectLockRetainUntilDate",
            "ObjectLockLegalHoldStatus",
            "SSEKMSKeyId",
            "ServerSideEncryption",
            "CopySource",
        }
    ),
    "dynamodb": frozenset({"SSESpecification", "ResourcePolicy"}),
    "lambda": frozenset(),
}


def permissions(operation: str, params: Mapping[str, Any], region: str) -> tuple[Permission, ...]:
    """What AWS checks for this call: its action on each resource the parameters name."""
    service = operation.split(".", 1)[0]
    action = ACTIONS.get(operation)
    if action is None:
        raise UnmappedCall(f"{operation} is not in iam_calls.ACTIONS: add its IAM action and resource")
    refused = sorted(_OTHER_PERMISSION_PARAMETERS[service] & set(params))
    if refused:
        raise UnmappedCall(f"{operation} with {refused}: needs permissions iam_calls does not map")
    if operation in _ARN_PARAMETER:
        by_arn = _ARN_PARAMETER[operation]
        return (Permission(action, params[by_arn]),) if by_arn else _import_table(action, params, region)
    if service == "dynamodb":
        return _dynamodb(operation, action, params, region)
    if service == "s3":
        return _s3(operation, action, params)
    return (Permission(action, _function_arn(region, params["FunctionName"], params.get("Qualifier"))),)


def _table_arn(region: str, name: str) -> str:
    return name if name.startswith("arn:") else f"arn:aws:dynamodb:{region}:{ACCOUNT}:table/{name}"


# What DynamoDB needs of the caller to write an export (S3DataExport_Requesting.html).
EXPORT_WRITES = ("s3:AbortMultipartUpload", "s3:PutObject", "s3:PutObjectAcl")


def _export_arn(region: str, arn: str) -> str:
    """`table/<name>/export/<id>`; moto spells it `table/<table ARN>/import/<id>`, read as the same."""
    name, _, export_id = arn.rpartition("table/")[2].partition("/")
    return f"arn:aws:dynamodb:{region}:{ACCOUNT}:table/{name}/export/{export_id.rpartition('/')[2]}"


def _dynamodb(operation: str, action: str, params: Mapping[str, Any], region: str) -> tuple[Permission, ...]:
    if operation == "dynamodb.DescribeExport":
        return (Permission(action, _export_arn(region, params["ExportArn"])),)
    if operation == "dynamodb.ExportTableToPointInTime":
        prefix = params.get("S3Prefix", "")
        data = (
            f"arn:aws:s3:::{params['S3Bucket']}/{prefix}{'/' if prefix else ''}AWSDynamoDB/any-export-object"
        )
        writes = tuple(Permission(write, data) for write in EXPORT_WRITES)
        return (Permission(action, _table_arn(region, params["TableArn"])), *writes)
    if operation in ("dynamodb.BatchGetItem", "dynamodb.BatchWriteItem"):
        return tuple(Permission(action, _table_arn(region, name)) for name in params["RequestItems"])
    table = _table_arn(region, params["TableName"])
    if "IndexName" in params:  # a Scan or Query of an index is authorized on the index
        return (Permission(action, f"{table}/index/{params['IndexName']}"),)
    if operation == "dynamodb.CreateTable" and params.get("Tags"):
        return (Permission(action, table), Permission("dynamodb:TagResource", table))
    return (Permission(action, table),)


# What DynamoDB needs of the caller to import (S3DataImport.Requesting.html): read the source under its
# prefix, and write the import's CloudWatch log under /aws-dynamodb/.
IMPORT_LOGS = (
    "logs:CreateLogGroup",
    "logs:CreateLogStream",
    "logs:DescribeLogGroups",
    "logs:DescribeLogStreams",
    "logs:PutLogEvents",
    "logs:PutRetentionPolicy",
)


# Calls authorized on the ARN one of their parameters holds ("": ImportTable, which names several).
_ARN_PARAMETER: Mapping[str, str] = {
    "dynamodb.DescribeImport": "ImportArn",
    "dynamodb.ImportTable": "",
    "dynamodb.TagResource": "ResourceArn",
}


def _import_table(action: str, params: Mapping[str, Any], region: str) -> tuple[Permission, ...]:
    source = params["S3BucketSource"]
    bucket, prefix = f"arn:aws:s3:::{source['S3Bucket']}", source.get("S3KeyPrefix", "")
    log_group = f"arn:aws:logs:{region}:{ACCOUNT}:log-group:/aws-dynamodb/imports"
    return (
        Permission(action, _table_arn(region, params["TableCreationParameters"]["TableName"])),
        Permission("s3:ListBucket", bucket, (("s3:prefix", prefix),)),
        Permission("s3:GetObject", f"{bucket}/{prefix}any-data-file.json.gz"),
        *(Permission(log_action, log_group) for log_action in IMPORT_LOGS),
    )


def _s3(operation: str, action: str, params: Mapping[str, Any]) -> tuple[Permission, ...]:
    bucket = f"arn:aws:s3:::{params['Bucket']}"
    if operation == "s3.GetObjectLockConfiguration":
        return (Permission(action, bucket),)
    if operation == "s3.ListObjectsV2":
        prefix = params.get("Prefix")
        return (Permission(action, bucket, (("s3:prefix", prefix),) if prefix is not None else ()),)
    if operation == "s3.DeleteObjects":
        objects = params["Delete"]["Objects"]
        if any("VersionId" in entry for entry in objects):
            raise UnmappedCall("s3.DeleteObjects of versions needs s3:DeleteObjectVersion: not mapped")
        return tuple(Permission(action, f"{bucket}/{entry['Key']}") for entry in objects)
    return (Permission(action, f"{bucket}/{params['Key']}"),)


def _function_arn(region: str, name: str, qualifier: str | None) -> str:
    """FunctionName may be a name, a partial ARN (account:function:name) or an ARN, each maybe qualified."""
    if name.startswith("arn:"):
        arn = name
    elif ":function:" in name:
        arn = f"arn:aws:lambda:{region}:{name}"
    else:
        arn = f"arn:aws:lambda:{region}:{ACCOUNT}:function:{name}"
    return f"{arn}:{qualifier}" if qualifier else arn


def default_session() -> boto3.Session:
    """The session `boto3.client(...)` builds clients from (the handlers' clients included)."""
    if boto3.DEFAULT_SESSION is None:
        boto3.setup_default_session()
    assert boto3.DEFAULT_SESSION is not None
    return boto3.DEFAULT_SESSION


_RECORDER_ID = "tests.iam_calls.recorder"


@dataclass
class CallLog:
    """The calls made while a handler ran in one test, each attributed to its function."""

    calls: list[Call] = field(default_factory=list)
    _running: FunctionRun | None = None

    def record(
        self, params: Mapping[str, Any], model: OperationModel, context: Mapping[str, Any], **_: Any
    ) -> None:
        """before-parameter-build: translate the call now (parameters such as Body are not kept)."""
        run = self._running
        if run is None:
            return
        operation = f"{model.service_model.service_name}.{model.name}"
        try:
            self.calls.append(Call(run, operation, permissions(operation, params, context["client_region"])))
        except UnmappedCall as unmapped:
            self.calls.append(Call(run, operation, (), str(unmapped)))

    @contextmanager
    def running(self, run: FunctionRun) -> Iterator[None]:
        """Record the calls of clients made from here on (boto3 copies the session's handlers into each)."""
        events = default_session().events
        events.register("before-parameter-build", self.record, unique_id=_RECORDER_ID)
        self._running = run
        try:
            yield
        finally:
            self._running = None
            events.unregister("before-parameter-build", unique_id=_RECORDER_ID)

    def recording(self, function: str, handler: Handler) -> Handler:
        """`handler`, run as the deployed function: its calls recorded, its context named like it."""

        @functools.wraps(handler)
        def run(event: dict[str, Any], context: Any) -> dict[str, Any]:
            function_run = FunctionRun(
                function,
                os.environ.get(ENV_TABLE_NAME, ""),
                os.environ.get(ENV_BACKUP_BUCKET, ""),
                os.environ.get(ENV_BACKUP_PREFIX, DEFAULT_BACKUP_PREFIX),
            )
            # What Lambda passes: the function's own name, so invoked_function_arn is its ARN.
            original = context.function_name
            context.function_name = deployed_function_name(function)
            try:
                with self.running(function_run):
                    return handler(event, context)
            finally:
                context.function_name = original

        return run


# ---- the deployed roles ------------------------------------------------------------------------------


def environment_config() -> EnvironmentConfig:
    """The stack the functions run in here: the tests' prefix and region, a made-up account."""
    return EnvironmentConfig(
        name="iam",
        table_name=PLACEHOLDER_TABLE,
        account=ACCOUNT,
        region=REGION,
        backup_prefix=DEFAULT_BACKUP_PREFIX,  # what devtools.function_env gives the functions
        # The export method's grants are added to the scan's, so one role answers for handlers of both.
        backup_method="export",
    )


def deployed_function_name(function: str) -> str:
    """`<service>-<env>-backup|restore`, as the stack names them (infra/stack.py)."""
    return f"{environment_config().function_name_prefix}-{function}"


def synthesize(outdir: Path) -> dict[str, Any]:
    """The stack's CloudFormation template, synthesized as `cdk synth` would (no bundling, no cdk-nag)."""
    os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
    # The CDK (and jsii's node process) only when a template is needed: most runs of a test file need none.
    from aws_cdk import App  # noqa: PLC0415

    from infra.application import LAMBDA_SOURCE_DIR  # noqa: PLC0415
    from infra.stack import LedgerBackupStack  # noqa: PLC0415
    from tests.infra.conftest import cdk_json_context  # noqa: PLC0415

    config = environment_config()
    app = App(context={**cdk_json_context(), "aws:cdk:bundling-stacks": []}, outdir=str(outdir))
    LedgerBackupStack(app, config=config, lambda_source=LAMBDA_SOURCE_DIR)
    template: dict[str, Any] = app.synth().get_stack_by_name(config.stack_name).template
    return template


_PSEUDO = {
    "AWS::Partition": "aws",
    "AWS::Region": REGION,
    "AWS::AccountId": ACCOUNT,
    "AWS::URLSuffix": "amazonaws.com",
}


class DeployedRoles:
    """Each function's role policy from the synthesized template, resolved to concrete ARNs per run.

    The stack is synthesized once with PLACEHOLDER_TABLE as its table name, and each run's names are
    mapped in the way the stack itself connects them: the function's TABLE_NAME variable is the table
    name its policy is built from (the placeholder is replaced by the run's TABLE_NAME wherever an
    ARN names ``table/<placeholder>``), and its BACKUP_BUCKET variable is a Ref to the bucket resource
    (that resource's name becomes the run's BACKUP_BUCKET). Synthesizing a stack with each test's
    names would cost a synthesis per test; both are checked against the template, so a stack whose
    functions pointed elsewhere would fail here rather than be mapped wrongly.
    """

    def __init__(self, outdir: Path) -> None:
        self._outdir = outdir
        self._policies: dict[FunctionRun, RolePolicy] = {}

    @functools.cached_property
    def template(self) -> dict[str, Any]:
        """Synthesized on first use only: a test session that runs no handler never pays for it."""
        return synthesize(self._outdir)

    def statements(self, run: FunctionRun) -> list[dict[str, Any]]:
        """The function's identity-policy statements with every intrinsic resolved for this run."""
        from tests.infra import cfn  # noqa: PLC0415 - it imports the CDK

        template = self.template
        function_id = cfn.function_id(template, deployed_function_name(run.function))
        variables = template["Resources"][function_id]["Properties"]["Environment"]["Variables"]
        assert variables[ENV_TABLE_NAME] == PLACEHOLDER_TABLE, variables
        if variables[ENV_BACKUP_PREFIX] != run.prefix:
            pytest.fail(
                f"the {run.function} function ran with {ENV_BACKUP_PREFIX}={run.prefix!r}, the stack sets "
                f"{variables[ENV_BACKUP_PREFIX]!r}: synthesize with the test's prefix "
                "(iam_calls.environment_config)"
            )
        bucket_id = variables[ENV_BACKUP_BUCKET]["Ref"]
        names = _ResourceNames(template, {bucket_id: run.bucket}, run.table)
        role_id = cfn.function_role_id(template, deployed_function_name(run.function))
        return [names.resolve(statement) for statement in cfn.role_statements(template, role_id)]

    def policy(self, run: FunctionRun) -> RolePolicy:
        """The run's resolved policy, built once per run."""
        if run not in self._policies:
            self._policies[run] = RolePolicy(self.statements(run))
        return self._policies[run]


class _ResourceNames:
    """Resolves Ref / Fn::GetAtt Arn / Fn::Join / Fn::Sub for the resources a role's policy names."""

    def __init__(self, template: Mapping[str, Any], names: Mapping[str, str], table: str) -> None:
        self._resources: Mapping[str, Any] = template["Resources"]
        self._names = names
        self._table = table

    def resolve(self, value: Any) -> Any:
        if isinstance(value, str):
            return value.replace(f":table/{PLACEHOLDER_TABLE}", f":table/{self._table}")
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        if isinstance(value, dict):
            if len(value) == 1 and ("Ref" in value or next(iter(value)).startswith("Fn::")):
                ((key, argument),) = value.items()
                return self._intrinsic(key, argument)
            return {k: self.resolve(v) for k, v in value.items()}
        return value

    def _intrinsic(self, key: str, argument: Any) -> str:
        if key == "Ref":
            return self._ref(argument)
        if key == "Fn::GetAtt":
            logical_id, attribute = argument if isinstance(argument, list) else argument.split(".", 1)
            return self._get_att(logical_id, attribute)
        if key == "Fn::Join":
            separator, parts = argument
            return str(separator).join(self.resolve(part) for part in parts)
        if key == "Fn::Sub" and isinstance(argument, str):
            return str(self.resolve(re.sub(r"\$\{([^}!]+)\}", lambda m: self._sub(m.group(1)), argument)))
        raise AssertionError(f"iam_calls cannot resolve {key} yet: {argument}")

    def _sub(self, name: str) -> str:
        if "." in name:
            logical_id, attribute = name.split(".", 1)
            return self._get_att(logical_id, attribute)
        return self._ref(name)

    def _ref(self, name: str) -> str:
        if name in _PSEUDO:
            return _PSEUDO[name]
        return self._name(name)

    def _name(self, logical_id: str) -> str:
        if logical_id in self._names:
            return self._names[logical_id]
        properties = self._resources[logical_id].get("Properties", {})
        if properties.get("TableName") == PLACEHOLDER_TABLE:
            return self._table
        for key in ("TableName", "BucketName", "LogGroupName", "QueueName", "FunctionName"):
            if isinstance(properties.get(key), str):
                return str(self.resolve(properties[key]))
        return logical_id.lower()  # a generated name: no call of the handlers names such a resource

    def _get_att(self, logical_id: str, attribute: str) -> str:
        assert attribute == "Arn", f"only Arn attributes are resolved, not {logical_id}.{attribute}"
        kind = self._resources[logical_id]["Type"]
        name = self._name(logical_id)
        arns = {
            "AWS::DynamoDB::Table": f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{name}",
            "AWS::S3::Bucket": f"arn:aws:s3:::{name}",
            "AWS::Logs::LogGroup": f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{name}:*",
            "AWS::SQS::Queue": f"arn:aws:sqs:{REGION}:{ACCOUNT}:{name}",
            "AWS::Lambda::Function": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}",
        }
        if kind not in arns:
            raise AssertionError(f"iam_calls cannot build the ARN of a {kind} ({logical_id}) yet")
        return arns[kind]


# ---- evaluation -------------------------------------------------------------------------------------

# moto turns a pattern into a regular expression by replacing only "*": any other regex character
# (or IAM's "?") would be misread, so such a pattern stops the check instead.
_MOTO_SAFE_PATTERN = re.compile(r"^[A-Za-z0-9:/_*-]*$")
# The condition keys a call's parameters give (see permissions()); any other is not evaluated.
_KNOWN_CONDITION_KEYS = frozenset({"s3:prefix"})

ALLOWED = "allowed"
DENIED = "denied"
CONDITIONAL = "allowed if a condition holds that the check cannot see"


@dataclass(frozen=True)
class Decision:
    verdict: str
    statements: tuple[str, ...] = ()  # the Sids (or actions) of the statements that decided it


class RolePolicy:
    """One role's statements, evaluated with moto's IAMPolicy one statement at a time."""

    def __init__(self, statements: Sequence[dict[str, Any]]) -> None:
        from moto.iam.access_control import IAMPolicy  # noqa: PLC0415 - about a second, only when used

        for statement in statements:
            unsupported = {"NotResource", "NotPrincipal"} & set(statement)
            assert not unsupported, f"moto's IAMPolicy does not evaluate {unsupported}: {statement}"
            for pattern in _as_list(statement.get("Action", [])) + _as_list(statement.get("Resource", [])):
                assert _MOTO_SAFE_PATTERN.match(pattern), f"moto would misread the pattern {pattern!r}"
        self.statements = list(statements)
        self._policies = [
            IAMPolicy(json.dumps({"Version": "2012-10-17", "Statement": [statement]}))
            for statement in self.statements
        ]

    def without(self, action: str) -> RolePolicy:
        """The same policy with `action` removed from every statement (for showing the check can fail)."""
        kept = []
        for statement in self.statements:
            actions = [a for a in _as_list(statement["Action"]) if a != action]
            if actions:
                kept.append({**statement, "Action": actions})
        return RolePolicy(kept)

    def decide(self, permission: Permission) -> Decision:
        from moto.iam.access_control import PermissionResult  # noqa: PLC0415

        context = dict(permission.context)
        allowing: list[str] = []
        conditional: list[str] = []
        for statement, policy in zip(self.statements, self._policies, strict=True):
            result = policy.is_action_permitted(permission.action, permission.resource)
            name = statement.get("Sid") or ",".join(_as_list(statement["Action"]))
            if result == PermissionResult.DENIED:  # an explicit Deny (moto leaves Allow conditions to us)
                return Decision(DENIED, (name,))
            if result == PermissionResult.PERMITTED:
                holds = _condition_holds(statement.get("Condition"), context)
                if holds is True:
                    allowing.append(name)
                elif holds is None:
                    conditional.append(name)
        if allowing:
            return Decision(ALLOWED, tuple(allowing))
        if conditional:
            return Decision(CONDITIONAL, tuple(conditional))
        return Decision(DENIED)


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _like(pattern: str, value: str) -> bool:
    """IAM's StringLike: ``*`` any run of characters, ``?`` one character, case-sensitive."""
    regex = re.escape(pattern).replace(r"\*", ".*").replace(r"\?", ".")
    return re.fullmatch(regex, value, re.DOTALL) is not None


_OPERATORS: Mapping[str, Callable[[str, str], bool]] = {
    "StringEquals": lambda pattern, value: pattern == value,
    "StringLike": _like,
}


def _condition_holds(block: Mapping[str, Any] | None, context: Mapping[str, str]) -> bool | None:
    """True or False where every key is one the call sets, None where some key cannot be known here."""
    if not block:
        return True
    unknown = False
    for operator, entries in block.items():
        base = operator.removesuffix("IfExists")
        for key, expected in entries.items():
            matches = _OPERATORS.get(base)
            if key.lower() not in _KNOWN_CONDITION_KEYS or matches is None:
                unknown = True
                continue
            value = context.get(key.lower())
            if value is None:
                if operator.endswith("IfExists"):
                    continue
                return False
            if not any(matches(pattern, value) for pattern in _as_list(expected)):
                return False
    return None if unknown else True


@dataclass
class Verdicts:
    """Every distinct (function run, permission) of a call log, decided once."""

    decisions: dict[tuple[FunctionRun, Permission], Decision] = field(default_factory=dict)
    operations: dict[tuple[FunctionRun, Permission], str] = field(default_factory=dict)
    unmapped: list[Call] = field(default_factory=list)

    def with_verdict(self, verdict: str) -> list[tuple[str, FunctionRun, Permission, Decision]]:
        return [
            (self.operations[key], key[0], key[1], decision)
            for key, decision in self.decisions.items()
            if decision.verdict == verdict
        ]

    def problems(self) -> list[str]:
        """What would fail on AWS (denied), or could not be checked (unmapped)."""
        lines = [
            f"{run.function} function: {operation} needs {p.action} on {p.resource}"
            + (f" (with {dict(p.context)})" if p.context else "")
            + ": the synthesized role does not allow it"
            for operation, run, p, _ in self.with_verdict(DENIED)
        ]
        lines += sorted(
            {f"{call.run.function} function: {call.unmapped}" for call in self.unmapped if call.unmapped}
        )
        return lines


def evaluate(calls: Iterable[Call], policy_for: Callable[[FunctionRun], RolePolicy]) -> Verdicts:
    """Decide each distinct permission the calls needed with the role policy of the function that made it."""
    verdicts = Verdicts()
    for call in calls:
        if call.unmapped is not None:
            verdicts.unmapped.append(call)
            continue
        for permission in call.permissions:
            key = (call.run, permission)
            if key not in verdicts.decisions:
                verdicts.decisions[key] = policy_for(call.run).decide(permission)
                verdicts.operations[key] = call.operation
    return verdicts


@dataclass
class SessionSummary:
    """What the whole session's handler calls came to, for the terminal summary."""

    calls: int = 0
    pairs: set[tuple[str, str]] = field(default_factory=set)
    actions: dict[str, Counter[str]] = field(default_factory=dict)
    conditional: set[tuple[str, str, tuple[str, ...]]] = field(default_factory=set)
    granted: dict[str, set[str]] = field(default_factory=dict)

    def add(self, log: CallLog, verdicts: Verdicts, roles: DeployedRoles) -> None:
        self.calls += len(log.calls)
        for call in log.calls:
            counter = self.actions.setdefault(call.run.function, Counter())
            for permission in call.permissions:
                self.pairs.add((permission.action, permission.resource))
                counter[permission.action] += 1
            if call.run.function not in self.granted:
                self.granted[call.run.function] = {
                    action
                    for statement in roles.statements(call.run)
                    for action in _as_list(statement["Action"])
                }
        for operation, _, permission, decision in verdicts.with_verdict(CONDITIONAL):
            self.conditional.add((permission.action, operation, decision.statements))

    def lines(self) -> list[str]:
        lines = [
            f"{self.calls} AWS calls made by the handlers: {len(self.pairs)} distinct (action, resource) "
            "pairs, each checked against its function's synthesized role"
        ]
        for function, counter in sorted(self.actions.items()):
            granted = {a for a in self.granted[function] if a.split(":")[0] in _CODE_SERVICES}
            lines.append(f"  {function}: {', '.join(sorted(counter))}")
            unused = ", ".join(sorted(granted - set(counter))) or "none"
            lines.append(f"  {function}, granted to its code and not called in this run: {unused}")
        for action, operation, statements in sorted(self.conditional):
            lines.append(
                f"  not proven: {operation} ({action}) is allowed only under the condition of {statements}"
            )
        return lines


# The role's other statements (logs, xray, sqs) are used by Lambda for the function, not by its code.
_CODE_SERVICES = frozenset(action.split(":")[0] for action in ACTIONS.values())

SUMMARY_KEY = pytest.StashKey[SessionSummary]()
