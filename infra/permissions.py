"""Exactly the IAM permissions each function's code uses (see the handler contract), nothing more.

Kept apart from the constructs so the least-privilege surface can be read (and reviewed) in one place.
"""

from __future__ import annotations

from aws_cdk import ArnFormat, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3

BACKUP_TABLE_ACTIONS = ("dynamodb:DescribeTable", "dynamodb:DescribeTimeToLive", "dynamodb:Scan")
BACKUP_OBJECT_ACTIONS = ("s3:AbortMultipartUpload", "s3:PutObject")
RESTORE_TABLE_ACTIONS = (
    "dynamodb:BatchWriteItem",
    "dynamodb:CreateTable",
    "dynamodb:DescribeTable",
    "dynamodb:DescribeTimeToLive",
    "dynamodb:Scan",
    "dynamodb:UpdateTimeToLive",
)
RESTORE_OBJECT_ACTIONS = ("s3:GetObject",)


def list_prefix_statement(bucket: s3.IBucket, prefix: str) -> iam.PolicyStatement:
    """ListBucket only for keys under the backup prefix (the bucket is the resource, so a condition)."""
    return iam.PolicyStatement(
        sid="ListBackupPrefix",
        actions=["s3:ListBucket"],
        resources=[bucket.bucket_arn],
        conditions={"StringLike": {"s3:prefix": [f"{prefix}*"]}},
    )


def restore_table_arn_pattern(stack: Stack, table_name: str) -> str:
    """``table/<ledger>*``: the ledger table and any table whose name starts with it (``<ledger>-restored``)."""
    return stack.format_arn(
        service="dynamodb",
        resource="table",
        resource_name=f"{table_name}*",
        arn_format=ArnFormat.SLASH_RESOURCE_NAME,
    )


def backup_statements(table_arn: str, bucket: s3.IBucket, prefix: str) -> list[iam.PolicyStatement]:
    """Read the ledger table (parallel scan), write backup objects (multipart) under the prefix."""
    return [
        iam.PolicyStatement(sid="ReadLedgerTable", actions=list(BACKUP_TABLE_ACTIONS), resources=[table_arn]),
        iam.PolicyStatement(
            sid="WriteBackupObjects",
            actions=list(BACKUP_OBJECT_ACTIONS),
            resources=[bucket.arn_for_objects(f"{prefix}*")],
        ),
        list_prefix_statement(bucket, prefix),
    ]


def restore_statements(
    stack: Stack, table_name: str, bucket: s3.IBucket, prefix: str
) -> list[iam.PolicyStatement]:
    """Read backup objects under the prefix; create/fill only the ledger table or ``<ledger>*`` tables."""
    return [
        iam.PolicyStatement(
            sid="ReadBackupObjects",
            actions=list(RESTORE_OBJECT_ACTIONS),
            resources=[bucket.arn_for_objects(f"{prefix}*")],
        ),
        list_prefix_statement(bucket, prefix),
        iam.PolicyStatement(
            sid="RestoreIntoLedgerTables",
            actions=list(RESTORE_TABLE_ACTIONS),
            resources=[restore_table_arn_pattern(stack, table_name)],
        ),
    ]
