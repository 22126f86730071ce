"""Exactly the IAM permissions each function's code uses (see the handler contract), nothing more.

Kept apart from the constructs so the least-privilege surface can be read (and reviewed) in one place.
"""

from __future__ import annotations

from aws_cdk import ArnFormat, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3

from infra.config import ReplicaConfig
from ledger_backup.contract import CREATED_BY_RESTORE_TAG, RESTORES_FOLDER

BACKUP_TABLE_ACTIONS = ("dynamodb:DescribeTable", "dynamodb:DescribeTimeToLive", "dynamodb:Scan")
# Data files by multipart upload; checkpoints written (conditional PUT), read back and checked for (HEAD)
# when a backup continues in a new invocation; checkpoints and unlisted files deleted when it completes.
BACKUP_OBJECT_ACTIONS = ("s3:AbortMultipartUpload", "s3:DeleteObject", "s3:GetObject", "s3:PutObject")
RESTORE_TABLE_ACTIONS = (
    "dynamodb:BatchGetItem",  # a plan of chosen keys reads just those
    "dynamodb:BatchWriteItem",
    "dynamodb:CreateTable",
    "dynamodb:DescribeTable",
    "dynamodb:DescribeImport",  # method "import": waiting on the ImportTable job (table/<name>/import/<id>)
    "dynamodb:DescribeTimeToLive",
    "dynamodb:ImportTable",  # method "import": DynamoDB creates and fills the new table from data/
    "dynamodb:PutItem",  # mode "missing": conditional puts, never over an item the table holds
    "dynamodb:Scan",
    "dynamodb:TagResource",  # CreateTable with Tags (the created-by-restore tag) needs it
    "dynamodb:UpdateTimeToLive",
)
# Backups (and the restore's own progress) are read with GET; HEAD (does result.json exist?) needs GetObject.
RESTORE_OBJECT_ACTIONS = ("s3:GetObject",)
# ImportTable logs to CloudWatch Logs under /aws-dynamodb/ in the caller's name (the Developer Guide's
# "Requesting a table import" lists these for the importing principal).
IMPORT_LOG_ACTIONS = (
    "logs:CreateLogGroup",
    "logs:CreateLogStream",
    "logs:DescribeLogGroups",
    "logs:DescribeLogStreams",
    "logs:PutLogEvents",
    "logs:PutRetentionPolicy",
)
# A restore that outlasts one invocation keeps its progress under <prefix>restores/ (RESTORES_FOLDER):
# immutable checkpoints and result.json are written with a conditional PUT (IfNoneMatch), and the
# checkpoints are deleted (DeleteObjects needs s3:DeleteObject) once the result is recorded. A dry
# run's plan report goes to <prefix>restores/reports/ (a multipart upload when large).
RESTORE_PROGRESS_ACTIONS = ("s3:AbortMultipartUpload", "s3:DeleteObject", "s3:PutObject")
# With kms_key (SSE-KMS and a bucket key), S3 uses the key on the caller's behalf: GenerateDataKey for
# each new object (a PUT, a multipart upload, the restore's journal and reports), Decrypt to read one and
# for each part of a multipart upload. Both functions write and read, so both need exactly these two.
BUCKET_KEY_ACTIONS = ("kms:Decrypt", "kms:GenerateDataKey")
# S3 replication (the replica key): read each new version with its ACL and tags, write it to the
# destination; never ReplicateDelete, since delete markers are not replicated.
REPLICATION_SOURCE_BUCKET_ACTIONS = ("s3:GetReplicationConfiguration", "s3:ListBucket")
REPLICATION_SOURCE_OBJECT_ACTIONS = (
    "s3:GetObjectVersionAcl",
    "s3:GetObjectVersionForReplication",
    "s3:GetObjectVersionTagging",
)
# Object Lock in the source: the retention and legal hold of each version are replicated with it.
REPLICATION_OBJECT_LOCK_ACTIONS = ("s3:GetObjectLegalHold", "s3:GetObjectRetention")
REPLICATION_DESTINATION_ACTIONS = ("s3:ReplicateObject", "s3:ReplicateTags")
# Another account's replicas become that account's (AccessControlTranslation Owner=Destination).
REPLICATION_OWNER_OVERRIDE = "s3:ObjectOwnerOverrideToBucketOwner"


_CREATED_BY_RESTORE_CONDITION = f"aws:ResourceTag/{CREATED_BY_RESTORE_TAG['Key']}"


def list_prefix_statement(bucket: s3.IBucket, prefix: str) -> iam.PolicyStatement:
    """ListBucket for listings under the backup prefix (the bucket is the resource, so a condition).

    ``IfExists``: a GET/HEAD of a missing key carries no ``s3:prefix``, and S3 answers 404 (rather than
    403) only if ListBucket is allowed in that request's context; the handlers rely on 404 to tell
    "not there (yet)" from "forbidden". A listing *with* a prefix outside the backup prefix is refused.
    """
    return iam.PolicyStatement(
        sid="ListBackupPrefix",
        actions=["s3:ListBucket"],
        resources=[bucket.bucket_arn],
        conditions={"StringLikeIfExists": {"s3:prefix": [f"{prefix}*"]}},
    )


def function_arn(stack: Stack, function_name: str) -> str:
    """A function's unqualified ARN built from its name: no reference to the function, so no cycle."""
    return stack.format_arn(
        service="lambda",
        resource="function",
        resource_name=function_name,
        arn_format=ArnFormat.COLON_RESOURCE_NAME,
    )


def restore_table_arn_pattern(stack: Stack, table_name: str) -> str:
    """``table/<ledger>*``: the ledger table and every table whose name starts with it (``...-restored``)."""
    return stack.format_arn(
        service="dynamodb",
        resource="table",
        resource_name=f"{table_name}*",
        arn_format=ArnFormat.SLASH_RESOURCE_NAME,
    )


def backup_statements(
    table_arn: str, bucket: s3.IBucket, prefix: str, own_function_arn: str
) -> list[iam.PolicyStatement]:
    """Read the ledger table (parallel scan), write backup objects under the prefix, continue itself."""
    return [
        iam.PolicyStatement(sid="ReadLedgerTable", actions=list(BACKUP_TABLE_ACTIONS), resources=[table_arn]),
        iam.PolicyStatement(
            sid="BackupObjects",
            actions=list(BACKUP_OBJECT_ACTIONS),
            resources=[bucket.arn_for_objects(f"{prefix}*")],
        ),
        list_prefix_statement(bucket, prefix),
        # A backup that will not finish before the timeout hands the rest to a new async invocation.
        iam.PolicyStatement(
            sid="ContinueBackup", actions=["lambda:InvokeFunction"], resources=[own_function_arn]
        ),
        *pruning_statements(bucket, prefix),
    ]


# Pruning (ledger_backup/pruning.py) reads whether a backup is under Object Lock before it deletes:
# the bucket's default retention, and each object's retention and legal hold, which HeadObject shows
# only to a caller allowed these two. The deletes themselves are BackupObjects' s3:DeleteObject.
PRUNE_LOCK_BUCKET_ACTIONS = ("s3:GetBucketObjectLockConfiguration",)
PRUNE_LOCK_OBJECT_ACTIONS = ("s3:GetObjectLegalHold", "s3:GetObjectRetention")


def pruning_statements(bucket: s3.IBucket, prefix: str) -> list[iam.PolicyStatement]:
    """Read Object Lock before pruning; and never delete a restore's journal, whatever else allows it."""
    return [
        iam.PolicyStatement(
            sid="ReadBucketObjectLock", actions=list(PRUNE_LOCK_BUCKET_ACTIONS), resources=[bucket.bucket_arn]
        ),
        iam.PolicyStatement(
            sid="ReadBackupObjectLocks",
            actions=list(PRUNE_LOCK_OBJECT_ACTIONS),
            resources=[bucket.arn_for_objects(f"{prefix}*")],
        ),
        # The backup role deletes (prunes) backups under the prefix; the restores' journals and
        # results there are the restore function's, and an explicit Deny wins over any Allow.
        iam.PolicyStatement(
            sid="NeverDeleteRestoreJournals",
            effect=iam.Effect.DENY,
            actions=["s3:DeleteObject"],
            resources=[bucket.arn_for_objects(restore_progress_objects(prefix))],
        ),
    ]


def restore_progress_objects(prefix: str) -> str:
    """``<prefix>restores/*``: the only keys the restore writes or deletes, never a backup object."""
    return f"{prefix}{RESTORES_FOLDER}*"


def import_log_groups(stack: Stack) -> str:
    """``log-group:/aws-dynamodb/*``: where ImportTable writes its CloudWatch log, and nothing else."""
    return stack.format_arn(
        service="logs",
        resource="log-group",
        resource_name="/aws-dynamodb/*",
        arn_format=ArnFormat.COLON_RESOURCE_NAME,
    )


def restore_statements(
    stack: Stack, table_name: str, bucket: s3.IBucket, prefix: str, own_function_arn: str
) -> list[iam.PolicyStatement]:
    """Read backups, keep progress under ``<prefix>restores/``, fill only ``<ledger>*`` tables, continue.

    Write and delete stop at the restores folder, so the restore role cannot alter or remove a backup.
    """
    return [
        iam.PolicyStatement(
            sid="ReadBackupObjects",
            actions=list(RESTORE_OBJECT_ACTIONS),
            resources=[bucket.arn_for_objects(f"{prefix}*")],
        ),
        iam.PolicyStatement(
            sid="RestoreProgressObjects",
            actions=list(RESTORE_PROGRESS_ACTIONS),
            resources=[bucket.arn_for_objects(restore_progress_objects(prefix))],
        ),
        list_prefix_statement(bucket, prefix),
        iam.PolicyStatement(
            sid="RestoreIntoLedgerTables",
            actions=list(RESTORE_TABLE_ACTIONS),
            resources=[restore_table_arn_pattern(stack, table_name)],
        ),
        # A restore refused for its input deletes the table it created (restore/target.py); only
        # tables carrying the tag its CreateTable sets, never the ledger or a table made otherwise.
        iam.PolicyStatement(
            sid="DeleteTablesRestoresCreated",
            actions=["dynamodb:DeleteTable"],
            resources=[restore_table_arn_pattern(stack, table_name)],
            conditions={"StringEquals": {_CREATED_BY_RESTORE_CONDITION: CREATED_BY_RESTORE_TAG["Value"]}},
        ),
        iam.PolicyStatement(
            sid="ImportTableLogs", actions=list(IMPORT_LOG_ACTIONS), resources=[import_log_groups(stack)]
        ),
        # A restore that will not finish before the timeout hands the rest to a new async invocation.
        iam.PolicyStatement(
            sid="ContinueRestore", actions=["lambda:InvokeFunction"], resources=[own_function_arn]
        ),
    ]


def kms_via_s3(region: str) -> dict[str, dict[str, str]]:
    """The key is usable only through S3 in that region: the role cannot decrypt anything by calling KMS."""
    return {"StringEquals": {"kms:ViaService": f"s3.{region}.amazonaws.com"}}


def bucket_key_statement(key_arn: str, region: str) -> iam.PolicyStatement:
    """Read and write objects of the SSE-KMS backup bucket (both functions), through S3 only."""
    return iam.PolicyStatement(
        sid="UseBackupBucketKey",
        actions=list(BUCKET_KEY_ACTIONS),
        resources=[key_arn],
        conditions=kms_via_s3(region),
    )


def replication_statements(
    bucket: s3.IBucket,
    prefix: str,
    replica: ReplicaConfig,
    *,
    source_key_arn: str | None,
    source_region: str,
    object_lock: bool,
) -> list[iam.PolicyStatement]:
    """What S3 replication needs (the role S3 assumes): read new versions here, write replicas there.

    The KMS statements appear only with SSE-KMS: Decrypt of the source key through S3 here, Encrypt with
    the replica key through S3 in the destination region (any S3 region when ``replica.region`` is unset).
    """
    statements = [
        iam.PolicyStatement(
            sid="ReadReplicationConfiguration",
            actions=list(REPLICATION_SOURCE_BUCKET_ACTIONS),
            resources=[bucket.bucket_arn],
        ),
        iam.PolicyStatement(
            sid="ReadBackupVersions",
            actions=[
                *REPLICATION_SOURCE_OBJECT_ACTIONS,
                *(REPLICATION_OBJECT_LOCK_ACTIONS if object_lock else ()),
            ],
            resources=[bucket.arn_for_objects(f"{prefix}*")],
        ),
        iam.PolicyStatement(
            sid="WriteReplicas",
            actions=[
                *REPLICATION_DESTINATION_ACTIONS,
                *((REPLICATION_OWNER_OVERRIDE,) if replica.account is not None else ()),
            ],
            resources=[f"{replica.bucket_arn}/{prefix}*"],
        ),
    ]
    if source_key_arn is not None:
        statements.append(
            iam.PolicyStatement(
                sid="DecryptSourceVersions",
                actions=["kms:Decrypt"],
                resources=[source_key_arn],
                conditions=kms_via_s3(source_region),
            )
        )
    if replica.kms_key_arn is not None:
        statements.append(
            iam.PolicyStatement(
                sid="EncryptReplicas",
                actions=["kms:Encrypt"],
                resources=[replica.kms_key_arn],
                conditions=kms_via_s3(replica.region)
                if replica.region is not None
                else {"StringLike": {"kms:ViaService": "s3.*.amazonaws.com"}},
            )
        )
    return statements


# backup_method export (ledger_backup/backup/export/): DescribeContinuousBackups to refuse a table
# without PITR by name; ExportTableToPointInTime on the table; DescribeExport on its exports. DynamoDB
# writes the export's objects with the caller's permissions: AWS's guide lists s3:AbortMultipartUpload,
# s3:PutObject and s3:PutObjectAcl on the destination (BackupObjects has the first two under the prefix).
EXPORT_TABLE_ACTIONS = ("dynamodb:DescribeContinuousBackups", "dynamodb:ExportTableToPointInTime")
EXPORT_DESCRIBE_ACTIONS = ("dynamodb:DescribeExport",)
EXPORT_OBJECT_ACTIONS = ("s3:AbortMultipartUpload", "s3:PutObject", "s3:PutObjectAcl")


def export_statements(table_arn: str, bucket: s3.IBucket, prefix: str) -> list[iam.PolicyStatement]:
    """Start exports of the ledger table into the backup prefix and follow them (backup_method export)."""
    return [
        iam.PolicyStatement(
            sid="ExportLedgerTable", actions=list(EXPORT_TABLE_ACTIONS), resources=[table_arn]
        ),
        iam.PolicyStatement(
            sid="DescribeLedgerExports",
            actions=list(EXPORT_DESCRIBE_ACTIONS),
            resources=[f"{table_arn}/export/*"],
        ),
        iam.PolicyStatement(
            sid="ExportObjects",
            actions=list(EXPORT_OBJECT_ACTIONS),
            resources=[bucket.arn_for_objects(f"{prefix}*")],
        ),
    ]
