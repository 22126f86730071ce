"""The synthesized stacks hold what the issue asks for, per environment (assertions on the templates)."""

import fnmatch
import json
from pathlib import Path
from typing import Any

import pytest
from aws_cdk.assertions import Match, Template

from infra.config import EnvironmentConfig
from ledger_backup.restore.journal import RestoreJournal
from ledger_backup.storage.stores import LocalStore
from tests.infra import cfn
from tests.infra.conftest import ADOPTED, Synthesized

ENVS = ["dev", "prod", ADOPTED.name]
CREATED_TABLE_ENVS = ["dev", "prod"]
# The API calls each handler makes (the engine contract), spelled out here rather than imported from infra.
BACKUP_TABLE_ACTIONS = ("dynamodb:DescribeTable", "dynamodb:DescribeTimeToLive", "dynamodb:Scan")
# Multipart data files; checkpoints put, read back (GET/HEAD) and deleted when a backup continues.
BACKUP_OBJECT_ACTIONS = ("s3:AbortMultipartUpload", "s3:DeleteObject", "s3:GetObject", "s3:PutObject")
RESTORE_TABLE_ACTIONS = (
    "dynamodb:BatchWriteItem",
    "dynamodb:CreateTable",
    "dynamodb:DescribeTable",
    "dynamodb:DescribeTimeToLive",
    "dynamodb:Scan",
    "dynamodb:UpdateTimeToLive",
)
RESTORE_OBJECT_ACTIONS = ("s3:GetObject",)
# Restore progress under <prefix>restores/: checkpoints, result.json put (IfNoneMatch); checkpoints deleted.
RESTORE_PROGRESS_ACTIONS = ("s3:DeleteObject", "s3:PutObject")
XRAY = ("xray:PutTelemetryRecords", "xray:PutTraceSegments")
LOGS = ("logs:CreateLogStream", "logs:PutLogEvents")
DEAD_LETTER = ("sqs:GetQueueAttributes", "sqs:GetQueueUrl", "sqs:SendMessage")

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


def table_arn(synthesized: Synthesized, env: str) -> str:
    """How the ledger table's ARN appears in policies: created (GetAtt) or adopted (pinned ARN)."""
    if env == ADOPTED.name:
        return f"arn:aws:dynamodb:eu-west-1:123456789012:table/{ADOPTED.table_name}"
    t = synthesized.template_json(env)
    return f"<{cfn.only(t, 'AWS::DynamoDB::Table')}.Arn>"


def own_function_arn(synthesized: Synthesized, env: str, kind: str) -> str:
    """The unqualified ARN of a function as its own policy names it (built from the name, no GetAtt)."""
    name = f"{synthesized.configs[env].function_name_prefix}-{kind}"
    if env == ADOPTED.name:
        return f"arn:aws:lambda:eu-west-1:123456789012:function:{name}"
    return f"arn:<AWS::Partition>:lambda:<AWS::Region>:<AWS::AccountId>:function:{name}"


# --- table -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("env_name", "retained"), [("dev", False), ("prod", True)])
def test_ledger_table_schema_billing_pitr_and_protection(
    synthesized: Synthesized, env_name: str, retained: bool
) -> None:
    t = template(synthesized, env_name)
    t.resource_count_is("AWS::DynamoDB::Table", 1)
    t.has_resource(
        "AWS::DynamoDB::Table",
        {
            "Properties": {
                "TableName": synthesized.configs[env_name].table_name,
                "KeySchema": [{"AttributeName": "book_id", "KeyType": "HASH"}],
                "AttributeDefinitions": [{"AttributeName": "book_id", "AttributeType": "S"}],
                "BillingMode": "PAY_PER_REQUEST",
                "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
                "DeletionProtectionEnabled": retained,
            },
            "DeletionPolicy": "Retain" if retained else "Delete",
            "UpdateReplacePolicy": "Retain" if retained else "Delete",
        },
    )


def test_adopted_table_is_referenced_by_name_not_created(synthesized: Synthesized) -> None:
    t = template(synthesized, ADOPTED.name)
    t.resource_count_is("AWS::DynamoDB::Table", 0)
    t.has_output("LedgerTableName", {"Value": ADOPTED.table_name})
    for fn in ("backup", "restore"):
        t.has_resource_properties(
            "AWS::Lambda::Function",
            {
                "FunctionName": f"ledger-backup-adopted-{fn}",
                "Environment": {"Variables": Match.object_like({"TABLE_NAME": ADOPTED.table_name})},
            },
        )


# --- buckets -----------------------------------------------------------------------------------------


def test_backup_bucket_private_encrypted_versioned_logged_and_retained(
    synthesized: Synthesized, env: str
) -> None:
    t = template(synthesized, env)
    i = ids(synthesized, env)
    bucket = synthesized.template_json(env)["Resources"][i["bucket"]]
    assert bucket["DeletionPolicy"] == "Retain"
    assert bucket["UpdateReplacePolicy"] == "Retain"
    t.has_resource_properties(
        "AWS::S3::Bucket",
        {
            "VersioningConfiguration": {"Status": "Enabled"},
            "PublicAccessBlockConfiguration": {
                "BlockPublicAcls": True,
                "BlockPublicPolicy": True,
                "IgnorePublicAcls": True,
                "RestrictPublicBuckets": True,
            },
            "BucketEncryption": {
                "ServerSideEncryptionConfiguration": [
                    {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}
                ]
            },
            "OwnershipControls": {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]},
            "LoggingConfiguration": {
                "DestinationBucketName": {"Ref": i["logs_bucket"]},
                "LogFilePrefix": Match.any_value(),
            },
        },
    )


def test_backup_lifecycle_expires_backups_old_versions_and_uploads(
    synthesized: Synthesized, env: str
) -> None:
    config = synthesized.configs[env]
    bucket = synthesized.template_json(env)["Resources"][ids(synthesized, env)["bucket"]]
    rules = bucket["Properties"]["LifecycleConfiguration"]["Rules"]
    expire = next(rule for rule in rules if "ExpirationInDays" in rule)
    assert expire == {
        "Id": "expire-backups",
        "Status": "Enabled",
        "ExpirationInDays": config.backup_retention_days,
        "NoncurrentVersionExpiration": {"NoncurrentDays": config.noncurrent_version_retention_days},
        "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1},
    }  # no Prefix/Filter: it applies to every object in the bucket
    assert {
        "Id": "remove-expired-delete-markers",
        "Status": "Enabled",
        "ExpiredObjectDeleteMarker": True,
    } in rules


def test_retention_days_come_from_each_environment(cdk_configs: dict[str, EnvironmentConfig]) -> None:
    # dev keeps a week, prod five weeks (cdk.json); the templates follow the configs (test above).
    assert cdk_configs["dev"].backup_retention_days == 7
    assert cdk_configs["prod"].backup_retention_days == 35


def test_every_bucket_denies_requests_without_tls(synthesized: Synthesized, env: str) -> None:
    t = synthesized.template_json(env)
    buckets = set(cfn.resources(t, "AWS::S3::Bucket"))
    assert len(buckets) == 2
    for bucket_id in buckets:
        policies = [
            p
            for p in cfn.resources(t, "AWS::S3::BucketPolicy").values()
            if p["Properties"]["Bucket"] == {"Ref": bucket_id}
        ]
        assert len(policies) == 1, bucket_id
        statements = policies[0]["Properties"]["PolicyDocument"]["Statement"]
        deny_plain_http = [
            s
            for s in statements
            if s["Effect"] == "Deny"
            and s["Action"] == "s3:*"
            and s["Principal"] == {"AWS": "*"}
            and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        ]
        assert len(deny_plain_http) == 1, bucket_id
        assert {cfn.render(r) for r in deny_plain_http[0]["Resource"]} == {
            f"<{bucket_id}.Arn>",
            f"<{bucket_id}.Arn>/*",
        }


def test_access_log_bucket_accepts_only_the_backup_bucket_logs(synthesized: Synthesized, env: str) -> None:
    t = template(synthesized, env)
    i = ids(synthesized, env)
    t.has_resource_properties(
        "AWS::S3::BucketPolicy",
        {
            "Bucket": {"Ref": i["logs_bucket"]},
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {
                                "Effect": "Allow",
                                "Principal": {"Service": "logging.s3.amazonaws.com"},
                                "Action": "s3:PutObject",
                                "Condition": Match.object_like(
                                    {"ArnLike": {"aws:SourceArn": {"Fn::GetAtt": [i["bucket"], "Arn"]}}}
                                ),
                            }
                        )
                    ]
                )
            },
        },
    )
    logs_bucket = synthesized.template_json(env)["Resources"][i["logs_bucket"]]
    assert logs_bucket["DeletionPolicy"] == "Retain"
    assert logs_bucket["Properties"]["PublicAccessBlockConfiguration"]["RestrictPublicBuckets"] is True
    [rule] = logs_bucket["Properties"]["LifecycleConfiguration"]["Rules"]
    assert rule["ExpirationInDays"] == synthesized.configs[env].access_log_retention_days


# --- functions ---------------------------------------------------------------------------------------


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
    }
    extra = {"SCAN_SEGMENTS": "4"} if kind == "backup" else {"RESTORE_WRITERS": "4"}
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
        },
    )


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
    t.resource_count_is("AWS::Events::Rule", 1)
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


def test_restore_is_on_demand_only(synthesized: Synthesized, env: str) -> None:
    t = synthesized.template_json(env)
    restore = ids(synthesized, env)["restore"]
    permissions = [
        p
        for p in cfn.resources(t, "AWS::Lambda::Permission").values()
        if restore in json.dumps(p["Properties"]["FunctionName"])
    ]
    assert permissions == []  # nothing (no rule, no service) may invoke it; operators invoke with IAM
    assert restore not in json.dumps(cfn.resources(t, "AWS::Events::Rule"))


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


# --- IAM ---------------------------------------------------------------------------------------------


def test_backup_role_has_exactly_the_permissions_the_handler_uses(synthesized: Synthesized, env: str) -> None:
    config = synthesized.configs[env]
    t = synthesized.template_json(env)
    i = ids(synthesized, env)
    bucket = f"<{i['bucket']}.Arn>"
    list_condition = json.dumps(
        {"StringLikeIfExists": {"s3:prefix": [f"{config.backup_prefix}*"]}}, sort_keys=True
    )
    expected = (
        cfn.grant(LOGS, f"<{i['backup_logs']}.Arn>")
        | cfn.grant(BACKUP_TABLE_ACTIONS, table_arn(synthesized, env))
        | cfn.grant(BACKUP_OBJECT_ACTIONS, f"{bucket}/{config.backup_prefix}*")
        | cfn.grant(["s3:ListBucket"], bucket, list_condition)
        | cfn.grant(XRAY, "*")
        | cfn.grant(DEAD_LETTER, f"<{i['queue']}.Arn>")
        | cfn.grant(["lambda:InvokeFunction"], own_function_arn(synthesized, env, "backup"))
    )
    assert cfn.permissions(cfn.role_statements(t, i["backup_role"])) == expected


def test_restore_role_has_exactly_the_permissions_the_handler_uses(
    synthesized: Synthesized, env: str
) -> None:
    config = synthesized.configs[env]
    t = synthesized.template_json(env)
    i = ids(synthesized, env)
    bucket = f"<{i['bucket']}.Arn>"
    list_condition = json.dumps(
        {"StringLikeIfExists": {"s3:prefix": [f"{config.backup_prefix}*"]}}, sort_keys=True
    )
    if env == ADOPTED.name:
        tables = f"arn:aws:dynamodb:eu-west-1:123456789012:table/{config.table_name}*"
    else:
        tables = f"arn:<AWS::Partition>:dynamodb:<AWS::Region>:<AWS::AccountId>:table/{config.table_name}*"
    expected = (
        cfn.grant(LOGS, f"<{i['restore_logs']}.Arn>")
        | cfn.grant(RESTORE_OBJECT_ACTIONS, f"{bucket}/{config.backup_prefix}*")
        | cfn.grant(RESTORE_PROGRESS_ACTIONS, f"{bucket}/{config.backup_prefix}restores/*")
        | cfn.grant(["s3:ListBucket"], bucket, list_condition)
        | cfn.grant(RESTORE_TABLE_ACTIONS, tables)
        | cfn.grant(XRAY, "*")
        | cfn.grant(DEAD_LETTER, f"<{i['queue']}.Arn>")
        | cfn.grant(["lambda:InvokeFunction"], own_function_arn(synthesized, env, "restore"))
    )
    assert cfn.permissions(cfn.role_statements(t, i["restore_role"])) == expected


def test_restore_writes_and_deletes_only_its_own_progress(synthesized: Synthesized, tmp_path: Path) -> None:
    """Put/Delete cover the folder the restore code keeps its progress in, and no backup object."""
    config = synthesized.configs[ADOPTED.name]
    t = synthesized.template_json(ADOPTED.name)
    i = ids(synthesized, ADOPTED.name)
    statements = cfn.role_statements(t, i["restore_role"])
    writes = {r for a, r, _ in cfn.permissions(statements) if a in RESTORE_PROGRESS_ACTIONS}
    [pattern] = writes
    key_pattern = pattern.removeprefix(f"<{i['bucket']}.Arn>/")
    # The folder the Lambda's restore journal actually uses for this prefix.
    journal = RestoreJournal(LocalStore(tmp_path), config.backup_prefix)
    folder = journal.restore_folder("20270101T000000Z-0a1b")
    assert fnmatch.fnmatchcase(f"{folder}checkpoint-000000000025-invocation1.json", key_pattern)
    assert fnmatch.fnmatchcase(f"{folder}result.json", key_pattern)
    backup = f"{config.backup_prefix}{config.table_name}/2027-01-01T03-00-00.000Z/"
    assert not fnmatch.fnmatchcase(f"{backup}manifest.json", key_pattern)
    assert not fnmatch.fnmatchcase(f"{backup}data/segment-0000-part-0000.json.gz", key_pattern)


def test_restore_may_write_only_the_ledger_and_tables_named_after_it(synthesized: Synthesized) -> None:
    name = synthesized.configs["prod"].table_name
    t = synthesized.template_json("prod")
    statements = cfn.role_statements(t, ids(synthesized, "prod")["restore_role"])
    writes = {
        r
        for a, r, _ in cfn.permissions(statements)
        if a in ("dynamodb:BatchWriteItem", "dynamodb:CreateTable")
    }
    [pattern] = writes
    arn = pattern.replace("<AWS::Partition>", "aws").replace("<AWS::Region>", "eu-west-1")
    arn = arn.replace("<AWS::AccountId>", "123456789012")

    def allowed(table: str) -> bool:
        return fnmatch.fnmatchcase(f"arn:aws:dynamodb:eu-west-1:123456789012:table/{table}", arn)

    assert allowed(name)
    assert allowed(f"{name}-restored")
    assert not allowed("some-other-table")
    assert not allowed(f"x-{name}")


def test_roles_have_no_managed_policies_and_trust_only_lambda(synthesized: Synthesized, env: str) -> None:
    t = synthesized.template_json(env)
    roles = cfn.resources(t, "AWS::IAM::Role")
    assert len(roles) == 2
    for role in roles.values():
        properties = role["Properties"]
        assert "ManagedPolicyArns" not in properties
        assert properties["AssumeRolePolicyDocument"]["Statement"] == [
            {"Action": "sts:AssumeRole", "Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}}
        ]


def test_no_wildcard_actions_and_star_resources_only_for_xray(synthesized: Synthesized, env: str) -> None:
    t = synthesized.template_json(env)
    statements = [
        s
        for p in cfn.resources(t, "AWS::IAM::Policy").values()
        for s in p["Properties"]["PolicyDocument"]["Statement"]
    ]
    for action, resource, _ in cfn.permissions(statements):
        assert "*" not in action
        if resource == "*":
            assert action in XRAY  # X-Ray has no resource-level permissions


# --- observability -----------------------------------------------------------------------------------


def test_no_successful_backup_alarm(synthesized: Synthesized, env: str) -> None:
    config = synthesized.configs[env]
    template(synthesized, env).has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {
            "Namespace": "LedgerBackup",
            "MetricName": "BackupSucceeded",
            "Dimensions": [{"Name": "service", "Value": "ledger-backup"}],
            "Statistic": "Sum",
            "Period": 3600,
            "EvaluationPeriods": 26,
            "DatapointsToAlarm": 26,
            "Threshold": 1,
            "ComparisonOperator": "LessThanThreshold",
            "TreatMissingData": "breaching",
            "AlarmName": f"{config.function_name_prefix}-no-successful-backup",
            "AlarmActions": [{"Ref": ids(synthesized, env)["topic"]}],
        },
    )


def test_backup_errors_alarm_counts_lambda_errors_and_failed_backups(
    synthesized: Synthesized, env: str
) -> None:
    i = ids(synthesized, env)
    template(synthesized, env).has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {
            "ComparisonOperator": "GreaterThanOrEqualToThreshold",
            "Threshold": 1,
            "EvaluationPeriods": 1,
            "TreatMissingData": "notBreaching",
            "AlarmActions": [{"Ref": i["topic"]}],
            "Metrics": Match.array_with(
                [
                    Match.object_like(
                        {"Expression": "FILL(errors, 0) + FILL(failed, 0)", "ReturnData": True}
                    ),
                    Match.object_like(
                        {
                            "Id": "errors",
                            "MetricStat": {
                                "Metric": {
                                    "Namespace": "AWS/Lambda",
                                    "MetricName": "Errors",
                                    "Dimensions": [{"Name": "FunctionName", "Value": {"Ref": i["backup"]}}],
                                },
                                "Period": 300,
                                "Stat": "Sum",
                            },
                        }
                    ),
                    Match.object_like(
                        {
                            "Id": "failed",
                            "MetricStat": {
                                "Metric": {
                                    "Namespace": "LedgerBackup",
                                    "MetricName": "BackupFailed",
                                    "Dimensions": [{"Name": "service", "Value": "ledger-backup"}],
                                },
                                "Period": 300,
                                "Stat": "Sum",
                            },
                        }
                    ),
                ]
            ),
        },
    )


def test_dead_letters_alarm_and_every_alarm_notifies_the_topic(synthesized: Synthesized, env: str) -> None:
    i = ids(synthesized, env)
    t = synthesized.template_json(env)
    alarms = cfn.resources(t, "AWS::CloudWatch::Alarm")
    assert len(alarms) == 3
    assert all(a["Properties"]["AlarmActions"] == [{"Ref": i["topic"]}] for a in alarms.values())
    template(synthesized, env).has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {
            "Namespace": "AWS/SQS",
            "MetricName": "ApproximateNumberOfMessagesVisible",
            "Dimensions": [{"Name": "QueueName", "Value": {"Fn::GetAtt": [i["queue"], "QueueName"]}}],
            "ComparisonOperator": "GreaterThanOrEqualToThreshold",
            "Threshold": 1,
        },
    )


def test_alarm_topic_is_encrypted_and_cloudwatch_may_publish(synthesized: Synthesized, env: str) -> None:
    i = ids(synthesized, env)
    t = template(synthesized, env)
    t.has_resource_properties("AWS::SNS::Topic", {"KmsMasterKeyId": {"Fn::GetAtt": [i["key"], "Arn"]}})
    t.has_resource_properties("AWS::KMS::Key", {"EnableKeyRotation": True})
    cloudwatch = Match.object_like({"Effect": "Allow", "Principal": {"Service": "cloudwatch.amazonaws.com"}})
    t.has_resource_properties("AWS::KMS::Key", {"KeyPolicy": {"Statement": Match.array_with([cloudwatch])}})
    t.has_resource_properties(
        "AWS::SNS::TopicPolicy",
        {
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {"Effect": "Deny", "Condition": {"Bool": {"aws:SecureTransport": "false"}}}
                        ),
                        Match.object_like(
                            {
                                "Effect": "Allow",
                                "Action": "sns:Publish",
                                "Principal": {"Service": "cloudwatch.amazonaws.com"},
                            }
                        ),
                    ]
                )
            }
        },
    )


def test_email_subscription_only_when_configured(synthesized: Synthesized) -> None:
    template(synthesized, ADOPTED.name).has_resource_properties(
        "AWS::SNS::Subscription", {"Protocol": "email", "Endpoint": "ledger-oncall@example.com"}
    )
    for env_name in CREATED_TABLE_ENVS:
        if synthesized.configs[env_name].alarm_email is None:
            template(synthesized, env_name).resource_count_is("AWS::SNS::Subscription", 0)


# --- deployment targets ------------------------------------------------------------------------------


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
