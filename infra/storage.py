"""The ledger table (created or adopted) and the backup bucket with its access-log bucket.

The bucket carries the options of cdk.json: SSE-KMS (``kms_key``), S3 Object Lock (``object_lock_days``,
``object_lock_mode``) and replication to a second bucket (``replica``). Retention of backups is the backup
function's pruner (``keep_*``); the lifecycle only cleans what no code owns: old versions, delete markers,
abandoned uploads and the restores' own records.
"""

from __future__ import annotations

from typing import Any

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from infra.config import KMS_KEY_CREATE, EnvironmentConfig, ReplicaConfig
from infra.nag import acknowledge, iam5_resource_finding
from infra.permissions import replication_statements
from ledger_backup.contract import RESTORES_FOLDER

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


def private_bucket(
    scope: Construct, construct_id: str, *, encryption_key: kms.IKey | None = None, **properties: Any
) -> s3.Bucket:
    """A retained bucket with no public access, no ACLs, TLS 1.2+ only, encrypted, plus ``properties``.

    SSE-S3 unless a key is given (then SSE-KMS with an S3 Bucket Key, one KMS call per object and bucket
    rather than per request). The access-log bucket stays SSE-S3: server access logging can deliver only
    to SSE-S3 buckets.
    """
    encryption: dict[str, Any] = (
        {"encryption": s3.BucketEncryption.S3_MANAGED}
        if encryption_key is None
        else {
            "encryption": s3.BucketEncryption.KMS,
            "encryption_key": encryption_key,
            "bucket_key_enabled": True,
        }
    )
    return s3.Bucket(
        scope,
        construct_id,
        block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
        enforce_ssl=True,
        minimum_tls_version=1.2,
        object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
        removal_policy=RemovalPolicy.RETAIN,
        **encryption,
        **properties,
    )


class BackupBucket(Construct):
    """Private, TLS-only, encrypted, versioned bucket; optionally locked, replicated, under a KMS key.

    Backups are RETAINed in every environment (never silently lost with a stack), and so is a key this
    stack creates for them: a destroyed key would make every retained backup unreadable. Server access
    logs go to a sibling bucket so reads of backups are auditable.
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
        self.key = self._backup_key(config)
        self.replication_role = (
            None
            if config.replica is None
            else iam.Role(
                self,
                "ReplicationRole",
                assumed_by=iam.ServicePrincipal("s3.amazonaws.com"),
                description=f"Replicates the {config.name} ledger backups to {config.replica.bucket_name}",
            )
        )
        self.bucket = private_bucket(
            self,
            "Bucket",
            encryption_key=self.key,
            versioned=True,
            server_access_logs_bucket=self.access_logs,
            server_access_logs_prefix="backup-bucket/",
            lifecycle_rules=_lifecycle_rules(config),
            **_object_lock(config),
            **self._replication(config),
        )
        if self.replication_role is not None and config.replica is not None:
            for statement in replication_statements(
                self.bucket,
                config.backup_prefix,
                config.replica,
                source_key_arn=self.key.key_arn if self.key is not None else None,
                source_region=Stack.of(self).region,
                object_lock=config.object_lock_days is not None,
            ):
                self.replication_role.add_to_principal_policy(statement)
            self._acknowledge_replication_wildcards(
                self.replication_role, config.backup_prefix, config.replica
            )

    def _acknowledge_replication_wildcards(self, role: iam.Role, prefix: str, replica: ReplicaConfig) -> None:
        """Replication reads and writes versions of keys no one can name in advance, under the prefix only."""
        acknowledge(
            role,
            iam5_resource_finding(self, self.bucket.arn_for_objects(f"{prefix}*")),
            "S3 replication reads each new version of a backup object, whose keys are generated per run "
            f"(<prefix><table>/<timestamp>/...); the grant is limited to keys under '{prefix}' here.",
        )
        acknowledge(
            role,
            f"AwsSolutions-IAM5[Resource::{replica.bucket_arn}/{prefix}*]",
            "S3 replication writes each replicated version under the same generated key in the replica "
            f"bucket; the grant is limited to keys under '{prefix}' there, the only keys it replicates.",
        )

    def _backup_key(self, config: EnvironmentConfig) -> kms.IKey | None:
        """The bucket's KMS key: none (SSE-S3), one of this stack ("create", rotated yearly), or imported."""
        if config.kms_key is None:
            return None
        if config.kms_key == KMS_KEY_CREATE:
            return kms.Key(
                self,
                "BackupKey",
                description=f"Encrypts the {config.name} ledger backups (S3 SSE-KMS)",
                enable_key_rotation=True,
                removal_policy=RemovalPolicy.RETAIN,
            )
        return kms.Key.from_key_arn(self, "BackupKey", config.kms_key)

    def _replication(self, config: EnvironmentConfig) -> dict[str, Any]:
        """The bucket's replication rule and role, or nothing when there is no replica."""
        if config.replica is None or self.replication_role is None:
            return {}
        return {
            "replication_role": self.replication_role,
            "replication_rules": [replication_rule(self, config.replica, config, self.key is not None)],
        }


def _lifecycle_rules(config: EnvironmentConfig) -> list[s3.LifecycleRule]:
    """What the lifecycle still owns: old versions, delete markers, abandoned uploads, restore records.

    No rule expires current backups: the pruner does (keep_*), so that the newest backups survive
    however old they are, which an age-based expiration cannot promise.
    """
    return [
        s3.LifecycleRule(
            id="expire-noncurrent-versions",
            noncurrent_version_expiration=Duration.days(config.noncurrent_version_retention_days),
            abort_incomplete_multipart_upload_after=Duration.days(1),
        ),
        # Once every version of a key has expired, drop the delete marker left behind.
        s3.LifecycleRule(id="remove-expired-delete-markers", expired_object_delete_marker=True),
        # Journals, checkpoints, results and plan reports of restores: a finished restore reads none of them.
        s3.LifecycleRule(
            id="expire-restore-records",
            prefix=f"{config.backup_prefix}{RESTORES_FOLDER}",
            expiration=Duration.days(config.restore_records_days),
        ),
    ]


def _object_lock(config: EnvironmentConfig) -> dict[str, Any]:
    """Object Lock with the environment's default retention on every new object version, or nothing."""
    if config.object_lock_days is None:
        return {}
    days = Duration.days(config.object_lock_days)
    retention = (
        s3.ObjectLockRetention.compliance(days)
        if config.object_lock_mode == "COMPLIANCE"
        else s3.ObjectLockRetention.governance(days)
    )
    return {"object_lock_enabled": True, "object_lock_default_retention": retention}


def replication_rule(
    scope: Construct, replica: ReplicaConfig, config: EnvironmentConfig, source_is_kms: bool
) -> s3.ReplicationRule:
    """Replicate every new object under the backup prefix; never delete markers.

    A prune (or anyone's delete) in the source leaves the replica's copy in place: the second place is
    what survives a mistake or an attacker in this account. Another account's replicas are owned by it.
    """
    destination = s3.Bucket.from_bucket_attributes(
        scope, "ReplicaBucket", bucket_arn=replica.bucket_arn, account=replica.account
    )
    replica_key = (
        None
        if replica.kms_key_arn is None
        else kms.Key.from_key_arn(scope, "ReplicaKey", replica.kms_key_arn)
    )
    return s3.ReplicationRule(
        id="replicate-backups",
        destination=destination,
        priority=1,
        filter=s3.Filter(prefix=config.backup_prefix),
        delete_marker_replication=False,
        access_control_transition=True if replica.account is not None else None,
        sse_kms_encrypted_objects=True if source_is_kms else None,
        kms_key=replica_key,
    )
