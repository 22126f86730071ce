"""The ledger table (created or adopted) and the backup bucket with its access-log bucket."""

from __future__ import annotations

from typing import Any

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_s3 as s3
from constructs import Construct

from infra.config import EnvironmentConfig

LEDGER_HASH_KEY = "book_id"


def removal_policy(config: EnvironmentConfig) -> RemovalPolicy:
    """RETAIN where data must outlive the stack (prod), DESTROY where it is disposable (dev)."""
    return RemovalPolicy.RETAIN if config.retain_data else RemovalPolicy.DESTROY


def ledger_table(scope: Construct, config: EnvironmentConfig) -> dynamodb.ITable:
    """Create the ledger table, or reference the existing one by name (the real ledger already exists).

    An adopted table stays outside this stack: its PITR, deletion protection and billing mode are
    whatever its owner set; only its name (and ARN) is used for permissions and the functions' settings.
    """
    if config.existing_table:
        return dynamodb.Table.from_table_name(scope, "LedgerTable", config.table_name)
    return dynamodb.Table(
        scope,
        "LedgerTable",
        table_name=config.table_name,
        partition_key=dynamodb.Attribute(name=LEDGER_HASH_KEY, type=dynamodb.AttributeType.STRING),
        billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
        point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
            point_in_time_recovery_enabled=True
        ),
        deletion_protection=config.retain_data,
        removal_policy=removal_policy(config),
    )


def private_bucket(scope: Construct, construct_id: str, **properties: Any) -> s3.Bucket:
    """A retained bucket with no public access, no ACLs, TLS 1.2+ only and SSE-S3, plus ``properties``.

    SSE-S3 rather than KMS for both: server access logging can only deliver to SSE-S3 buckets.
    """
    return s3.Bucket(
        scope,
        construct_id,
        block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
        encryption=s3.BucketEncryption.S3_MANAGED,
        enforce_ssl=True,
        minimum_tls_version=1.2,
        object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
        removal_policy=RemovalPolicy.RETAIN,
        **properties,
    )


class BackupBucket(Construct):
    """Private, TLS-only, encrypted, versioned bucket whose lifecycle expires old backups.

    Backups are RETAINed in every environment (never silently lost with a stack); server access logs
    go to a sibling bucket so reads of backups are auditable.
    """

    def __init__(self, scope: Construct, construct_id: str, *, config: EnvironmentConfig) -> None:
        super().__init__(scope, construct_id)
        self.access_logs = private_bucket(
            self,
            "AccessLogs",
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="expire-access-logs",
                    expiration=Duration.days(config.access_log_retention_days),
                    abort_incomplete_multipart_upload_after=Duration.days(1),
                )
            ],
        )

        self.bucket = private_bucket(
            self,
            "Bucket",
            versioned=True,
            server_access_logs_bucket=self.access_logs,
            server_access_logs_prefix="backup-bucket/",
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="expire-backups",
                    expiration=Duration.days(config.backup_retention_days),
                    noncurrent_version_expiration=Duration.days(config.noncurrent_version_retention_days),
                    abort_incomplete_multipart_upload_after=Duration.days(1),
                ),
                # Once every version of a key has expired, drop the delete marker left behind.
                s3.LifecycleRule(id="remove-expired-delete-markers", expired_object_delete_marker=True),
            ],
        )
