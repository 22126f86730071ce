"""The ledger table (created or adopted) and the backup and access-log buckets, per environment."""

import pytest
from aws_cdk.assertions import Match

from infra.config import EnvironmentConfig
from tests.infra import cfn
from tests.infra.conftest import ADOPTED, Synthesized, ids, template

# --- table ----------------------------------------------------------------------------------------


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


# --- buckets --------------------------------------------------------------------------------------


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


def test_lifecycle_never_expires_a_current_backup(synthesized: Synthesized, env: str) -> None:
    """Old versions, delete markers, abandoned uploads and restore records only: the pruner owns backups."""
    config = synthesized.configs[env]
    bucket = synthesized.template_json(env)["Resources"][ids(synthesized, env)["bucket"]]
    rules = bucket["Properties"]["LifecycleConfiguration"]["Rules"]
    assert rules == [
        {
            "Id": "expire-noncurrent-versions",
            "Status": "Enabled",
            "NoncurrentVersionExpiration": {"NoncurrentDays": config.noncurrent_version_retention_days},
            "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1},
        },  # no Prefix/Filter: every object's old versions and uploads
        {"Id": "remove-expired-delete-markers", "Status": "Enabled", "ExpiredObjectDeleteMarker": True},
        {
            "Id": "expire-restore-records",
            "Status": "Enabled",
            "Prefix": f"{config.backup_prefix}restores/",
            "ExpirationInDays": config.restore_records_days,
        },
    ]


def test_retention_comes_from_each_environment(cdk_configs: dict[str, EnvironmentConfig]) -> None:
    """dev keeps a few recent backups; prod a week, two weeks of dailies, two months of weeklies, a year."""
    retention = {
        name: (c.keep_last, c.keep_daily, c.keep_weekly, c.keep_monthly) for name, c in cdk_configs.items()
    }
    assert retention["dev"] == (3, 3, 1, 0)
    assert retention["prod"] == (7, 14, 8, 12)
    assert (cdk_configs["dev"].restore_records_days, cdk_configs["prod"].restore_records_days) == (7, 30)


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
