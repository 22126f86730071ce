"""The bucket options of cdk.json (Object Lock, SSE-KMS, replication) and the restore drill, as synthesized.

The variants LOCKED, GOVERNED and REPLICATED (conftest.py) are stacks of the session app: cdk-nag and
cfn-lint check them with the others (test_compliance.py). What only real AWS can prove (that S3 enforces
the lock, replicates, and that KMS lets exactly these roles use the key) is listed in the README.
"""

import json
from typing import Any

import pytest

from tests.infra import cfn
from tests.infra.conftest import (
    ADOPTED,
    GOVERNED,
    IMPORTED_KEY,
    LOCKED,
    REPLICA_KEY,
    REPLICATED,
    Synthesized,
    ids,
)

BUCKET_KEY_ACTIONS = ("kms:Decrypt", "kms:GenerateDataKey")
VIA_S3_HERE = json.dumps(
    {
        "StringEquals": {
            "kms:ViaService": {"Fn::Join": ["", ["s3.", {"Ref": "AWS::Region"}, ".amazonaws.com"]]}
        }
    },
    sort_keys=True,
)
"""kms:ViaService for S3 in the stack's own region (a stack not pinned to one)."""
PLAIN_ENVS = ["dev", "prod", REPLICATED.name]


def backup_bucket(synthesized: Synthesized, env: str) -> dict[str, Any]:
    """The backup bucket's properties."""
    bucket_id = ids(synthesized, env)["bucket"]
    properties: dict[str, Any] = synthesized.template_json(env)["Resources"][bucket_id]["Properties"]
    return properties


def kms_permissions(synthesized: Synthesized, env: str, kind: str) -> set[cfn.Permission]:
    """The KMS part of a function role's permissions."""
    t = synthesized.template_json(env)
    statements = cfn.role_statements(t, ids(synthesized, env)[f"{kind}_role"])
    return {p for p in cfn.permissions(statements) if p[0].startswith("kms:")}


def replication_role_id(synthesized: Synthesized, env: str) -> str:
    """The one role S3 assumes (the functions' roles trust Lambda)."""
    t = synthesized.template_json(env)
    [role_id] = [
        role_id
        for role_id, role in cfn.resources(t, "AWS::IAM::Role").items()
        if role["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]["Principal"]
        == {"Service": "s3.amazonaws.com"}
    ]
    return role_id


# --- Object Lock ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("env", "mode", "days"), [(LOCKED.name, "COMPLIANCE", 30), (GOVERNED.name, "GOVERNANCE", 7)]
)
def test_object_lock_with_the_environment_default_retention(
    synthesized: Synthesized, env: str, mode: str, days: int
) -> None:
    bucket = backup_bucket(synthesized, env)
    assert bucket["ObjectLockEnabled"] is True
    assert bucket["ObjectLockConfiguration"] == {
        "ObjectLockEnabled": "Enabled",
        "Rule": {"DefaultRetention": {"Mode": mode, "Days": days}},
    }
    assert bucket["VersioningConfiguration"] == {"Status": "Enabled"}  # Object Lock requires it


@pytest.mark.parametrize("env", PLAIN_ENVS)
def test_no_object_lock_unless_configured(synthesized: Synthesized, env: str) -> None:
    bucket = backup_bucket(synthesized, env)
    assert "ObjectLockEnabled" not in bucket
    assert "ObjectLockConfiguration" not in bucket


def test_access_log_bucket_is_never_locked_nor_kms(synthesized: Synthesized) -> None:
    """Server access logs can go only to an SSE-S3 bucket without Object Lock."""
    for config in (LOCKED, GOVERNED):
        logs_id = ids(synthesized, config.name)["logs_bucket"]
        logs = synthesized.template_json(config.name)["Resources"][logs_id]["Properties"]
        assert "ObjectLockEnabled" not in logs
        assert logs["BucketEncryption"] == {
            "ServerSideEncryptionConfiguration": [
                {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}
            ]
        }


# --- KMS ------------------------------------------------------------------------------------------


def test_created_key_encrypts_the_bucket_with_a_bucket_key_and_outlives_the_stack(
    synthesized: Synthesized,
) -> None:
    t = synthesized.template_json(LOCKED.name)
    keys = {
        key_id: key
        for key_id, key in cfn.resources(t, "AWS::KMS::Key").items()
        if "ledger backups" in key["Properties"]["Description"]
    }
    [(key_id, key)] = keys.items()
    assert key["Properties"]["EnableKeyRotation"] is True
    assert (key["DeletionPolicy"], key["UpdateReplacePolicy"]) == ("Retain", "Retain")
    assert backup_bucket(synthesized, LOCKED.name)["BucketEncryption"] == {
        "ServerSideEncryptionConfiguration": [
            {
                "BucketKeyEnabled": True,
                "ServerSideEncryptionByDefault": {
                    "SSEAlgorithm": "aws:kms",
                    "KMSMasterKeyID": {"Fn::GetAtt": [key_id, "Arn"]},
                },
            }
        ]
    }
    for kind in ("backup", "restore"):
        assert kms_permissions(synthesized, LOCKED.name, kind) == cfn.grant(
            BUCKET_KEY_ACTIONS, f"<{key_id}.Arn>", VIA_S3_HERE
        )
    assert t["Outputs"]["BackupKeyArn"]["Value"] == {"Fn::GetAtt": [key_id, "Arn"]}


def test_imported_key_encrypts_the_bucket_and_each_function_may_use_it_through_s3_only(
    synthesized: Synthesized,
) -> None:
    t = synthesized.template_json(GOVERNED.name)
    # The only key in the stack is the alarm topic's: the imported one is referenced by its ARN.
    assert len(cfn.resources(t, "AWS::KMS::Key")) == 1
    [rule] = backup_bucket(synthesized, GOVERNED.name)["BucketEncryption"][
        "ServerSideEncryptionConfiguration"
    ]
    assert rule == {
        "BucketKeyEnabled": True,
        "ServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": IMPORTED_KEY},
    }
    via_s3 = json.dumps({"StringEquals": {"kms:ViaService": "s3.eu-west-1.amazonaws.com"}}, sort_keys=True)
    for kind in ("backup", "restore"):
        assert kms_permissions(synthesized, GOVERNED.name, kind) == cfn.grant(
            BUCKET_KEY_ACTIONS, IMPORTED_KEY, via_s3
        )


@pytest.mark.parametrize("env", PLAIN_ENVS)
def test_sse_s3_buckets_give_the_functions_no_kms_permission(synthesized: Synthesized, env: str) -> None:
    assert backup_bucket(synthesized, env)["BucketEncryption"] == {
        "ServerSideEncryptionConfiguration": [{"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
    }
    for kind in ("backup", "restore"):
        assert kms_permissions(synthesized, env, kind) == set()
    assert "BackupKeyArn" not in synthesized.template_json(env)["Outputs"]


def backup_environment(synthesized: Synthesized, env: str) -> dict[str, Any]:
    """The backup function's environment variables."""
    t = synthesized.template_json(env)
    function = t["Resources"][ids(synthesized, env)["backup"]]
    variables: dict[str, Any] = function["Properties"]["Environment"]["Variables"]
    return variables


def test_the_backup_function_is_told_the_buckets_key_so_exports_name_it(synthesized: Synthesized) -> None:
    """Each export request names the SSE-KMS key (export/start.py): the stack's or an imported one."""
    t = synthesized.template_json(LOCKED.name)
    [key_id] = [
        k
        for k, key in cfn.resources(t, "AWS::KMS::Key").items()
        if "ledger backups" in key["Properties"]["Description"]
    ]
    assert backup_environment(synthesized, LOCKED.name)["BACKUP_KMS_KEY_ARN"] == {
        "Fn::GetAtt": [key_id, "Arn"]
    }
    assert backup_environment(synthesized, GOVERNED.name)["BACKUP_KMS_KEY_ARN"] == IMPORTED_KEY


@pytest.mark.parametrize("env", [*PLAIN_ENVS, ADOPTED.name])
def test_without_kms_key_the_backup_function_names_no_key(synthesized: Synthesized, env: str) -> None:
    assert "BACKUP_KMS_KEY_ARN" not in backup_environment(synthesized, env)


# --- replication ----------------------------------------------------------------------------------


def test_replica_in_another_account_and_region_under_kms(synthesized: Synthesized) -> None:
    config = LOCKED
    assert config.replica is not None
    configuration = backup_bucket(synthesized, config.name)["ReplicationConfiguration"]
    role_id = replication_role_id(synthesized, config.name)
    assert configuration["Role"] == {"Fn::GetAtt": [role_id, "Arn"]}
    assert configuration["Rules"] == [
        {
            "Id": "replicate-backups",
            "Status": "Enabled",
            "Priority": 1,
            "Filter": {"Prefix": config.backup_prefix},
            # A prune or anyone's delete here never removes the replica's copy.
            "DeleteMarkerReplication": {"Status": "Disabled"},
            "Destination": {
                "Bucket": config.replica.bucket_arn,
                "Account": "210987654321",
                "AccessControlTranslation": {"Owner": "Destination"},
                "EncryptionConfiguration": {"ReplicaKmsKeyID": REPLICA_KEY},
            },
            "SourceSelectionCriteria": {"SseKmsEncryptedObjects": {"Status": "Enabled"}},
        }
    ]
    t = synthesized.template_json(config.name)
    [key_id] = [k for k, v in cfn.resources(t, "AWS::KMS::Key").items() if "ledger backups" in json.dumps(v)]
    bucket = f"<{ids(synthesized, config.name)['bucket']}.Arn>"
    replica_via_s3 = json.dumps(
        {"StringEquals": {"kms:ViaService": "s3.eu-central-1.amazonaws.com"}}, sort_keys=True
    )
    assert cfn.permissions(cfn.role_statements(t, role_id)) == (
        cfn.grant(["s3:GetReplicationConfiguration", "s3:ListBucket"], bucket)
        | cfn.grant(
            [
                "s3:GetObjectVersionForReplication",
                "s3:GetObjectVersionAcl",
                "s3:GetObjectVersionTagging",
                # Object Lock: each version's retention and legal hold go with it.
                "s3:GetObjectRetention",
                "s3:GetObjectLegalHold",
            ],
            f"{bucket}/backups/*",
        )
        | cfn.grant(
            ["s3:ReplicateObject", "s3:ReplicateTags", "s3:ObjectOwnerOverrideToBucketOwner"],
            f"{config.replica.bucket_arn}/backups/*",
        )
        | cfn.grant(["kms:Decrypt"], f"<{key_id}.Arn>", VIA_S3_HERE)
        | cfn.grant(["kms:Encrypt"], REPLICA_KEY, replica_via_s3)
    )
    assert t["Outputs"]["ReplicaBucketName"]["Value"] == "ledger-backups-replica"
    assert t["Outputs"]["ReplicationRoleArn"]["Value"] == {"Fn::GetAtt": [role_id, "Arn"]}


def test_replica_in_this_account_under_kms_in_an_unnamed_region(synthesized: Synthesized) -> None:
    config = GOVERNED
    assert config.replica is not None
    [rule] = backup_bucket(synthesized, config.name)["ReplicationConfiguration"]["Rules"]
    assert rule["Destination"] == {
        "Bucket": config.replica.bucket_arn,
        "EncryptionConfiguration": {"ReplicaKmsKeyID": config.replica.kms_key_arn},
    }  # no Account, no owner override: the replicas stay this account's
    assert rule["SourceSelectionCriteria"] == {"SseKmsEncryptedObjects": {"Status": "Enabled"}}
    t = synthesized.template_json(config.name)
    permissions = cfn.permissions(cfn.role_statements(t, replication_role_id(synthesized, config.name)))
    assert ("s3:ObjectOwnerOverrideToBucketOwner", f"{config.replica.bucket_arn}/backups/*", "") not in (
        permissions
    )
    any_s3 = json.dumps({"StringLike": {"kms:ViaService": "s3.*.amazonaws.com"}}, sort_keys=True)
    via_here = json.dumps({"StringEquals": {"kms:ViaService": "s3.eu-west-1.amazonaws.com"}}, sort_keys=True)
    kms = {p for p in permissions if p[0].startswith("kms:")}
    assert kms == cfn.grant(["kms:Decrypt"], IMPORTED_KEY, via_here) | cfn.grant(
        ["kms:Encrypt"], str(config.replica.kms_key_arn), any_s3
    )


def test_replica_without_kms_or_another_account(synthesized: Synthesized) -> None:
    config = REPLICATED
    assert config.replica is not None
    [rule] = backup_bucket(synthesized, config.name)["ReplicationConfiguration"]["Rules"]
    assert rule["Destination"] == {"Bucket": config.replica.bucket_arn}
    assert "SourceSelectionCriteria" not in rule
    t = synthesized.template_json(config.name)
    bucket = f"<{ids(synthesized, config.name)['bucket']}.Arn>"
    assert cfn.permissions(cfn.role_statements(t, replication_role_id(synthesized, config.name))) == (
        cfn.grant(["s3:GetReplicationConfiguration", "s3:ListBucket"], bucket)
        | cfn.grant(
            ["s3:GetObjectVersionForReplication", "s3:GetObjectVersionAcl", "s3:GetObjectVersionTagging"],
            f"{bucket}/backups/*",
        )
        | cfn.grant(["s3:ReplicateObject", "s3:ReplicateTags"], f"{config.replica.bucket_arn}/backups/*")
    )


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_no_replication_unless_configured(synthesized: Synthesized, env: str) -> None:
    t = synthesized.template_json(env)
    assert "ReplicationConfiguration" not in backup_bucket(synthesized, env)
    assert len(cfn.resources(t, "AWS::IAM::Role")) == 2  # the two functions' only
    assert "ReplicaBucketName" not in t["Outputs"]
    assert "ReplicationRoleArn" not in t["Outputs"]


# --- restore drills -------------------------------------------------------------------------------


@pytest.mark.parametrize("env", ["dev", "prod", LOCKED.name])
def test_drill_schedule_invokes_the_restore_function_with_drill_true(
    synthesized: Synthesized, env: str
) -> None:
    config = synthesized.configs[env]
    i = ids(synthesized, env)
    t = synthesized.template_json(env)
    [drill] = [
        rule["Properties"]
        for rule in cfn.resources(t, "AWS::Events::Rule").values()
        if i["restore"] in json.dumps(rule["Properties"]["Targets"])
    ]
    assert drill["ScheduleExpression"] == config.drill_schedule == "cron(0 5 ? * SUN *)"
    assert drill["Targets"] == [
        {
            "Arn": {"Fn::GetAtt": [i["restore"], "Arn"]},
            "Id": drill["Targets"][0]["Id"],
            "Input": '{"drill":true}',
            "RetryPolicy": {"MaximumRetryAttempts": 2, "MaximumEventAgeInSeconds": 7200},
            "DeadLetterConfig": {"Arn": {"Fn::GetAtt": [i["queue"], "Arn"]}},
        }
    ]


def drill_alarms(synthesized: Synthesized, env: str) -> dict[str, dict[str, Any]]:
    """The drill alarms by name suffix."""
    prefix = synthesized.configs[env].function_name_prefix
    alarms = cfn.resources(synthesized.template_json(env), "AWS::CloudWatch::Alarm").values()
    return {
        a["Properties"]["AlarmName"].removeprefix(f"{prefix}-"): a["Properties"]
        for a in alarms
        if "drill" in a["Properties"]["AlarmName"]
    }


@pytest.mark.parametrize(("env", "days"), [("prod", 8), (LOCKED.name, 4)])
def test_no_passed_drill_counts_complete_utc_days_within_the_cloudwatch_limit(
    synthesized: Synthesized, env: str, days: int
) -> None:
    """N - 1 whole days on a wall-clock window: on between N - 1 and N days after the last pass."""
    assert synthesized.configs[env].drill_stale_after_days == days
    alarm = drill_alarms(synthesized, env)["no-passed-drill"]
    topic = ids(synthesized, env)["topic"]
    assert {k: alarm[k] for k in alarm if k not in ("AlarmDescription", "AlarmName", "Tags")} == {
        "Namespace": "LedgerBackup",
        "MetricName": "RestoreDrillSucceeded",
        "Dimensions": [{"Name": "service", "Value": "ledger-backup"}],
        "Statistic": "Sum",
        "Period": 86400,
        "EvaluationPeriods": days - 1,
        "DatapointsToAlarm": days - 1,
        "Threshold": 1,
        "ComparisonOperator": "LessThanThreshold",
        "TreatMissingData": "breaching",  # no drill ran at all
        "EvaluationWindow": {"WallClockWindow": {"Timezone": "UTC"}},
        "AlarmActions": [{"Ref": topic}],
    }
    # PutMetricAlarm's limit: Period x EvaluationPeriods <= 604,800 s.
    assert alarm["Period"] * alarm["EvaluationPeriods"] <= 7 * 86400


@pytest.mark.parametrize("env", ["dev", "prod", LOCKED.name, REPLICATED.name])
def test_failed_drill_alarm(synthesized: Synthesized, env: str) -> None:
    alarm = drill_alarms(synthesized, env)["restore-drill-failed"]
    assert (alarm["MetricName"], alarm["Statistic"], alarm["Period"]) == ("RestoreDrillFailed", "Sum", 86400)
    assert (alarm["ComparisonOperator"], alarm["Threshold"], alarm["EvaluationPeriods"]) == (
        "GreaterThanOrEqualToThreshold",
        1,
        1,
    )
    assert alarm["TreatMissingData"] == "notBreaching"
    assert alarm["AlarmActions"] == [{"Ref": ids(synthesized, env)["topic"]}]


def test_no_drill_schedule_means_no_drill_rule_and_no_staleness_alarm(synthesized: Synthesized) -> None:
    env = REPLICATED.name
    t = synthesized.template_json(env)
    assert ids(synthesized, env)["restore"] not in json.dumps(cfn.resources(t, "AWS::Events::Rule"))
    assert set(drill_alarms(synthesized, env)) == {"restore-drill-failed"}
