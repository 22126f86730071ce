"""boto3 clients configured for bulk work: botocore's retries, enough connections for the threads.

Endpoints come only from the standard AWS settings (AWS_ENDPOINT_URL_DYNAMODB,
AWS_ENDPOINT_URL_S3, ...): this code has no endpoint switches of its own.
"""

from typing import TYPE_CHECKING

import boto3
from botocore.config import Config

if TYPE_CHECKING:
    from botocore.config import _RetryDict
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_s3 import S3Client

# "standard" retries throttling (ProvisionedThroughputExceeded, ThrottlingException, RequestLimitExceeded),
# 5xx and connection errors with exponential backoff and jitter; total_max_attempts counts the first call too.
_RETRIES: "_RetryDict" = {"mode": "standard", "total_max_attempts": 10}


def dynamodb_client(max_connections: int = 16) -> "DynamoDBClient":
    """A thread-safe client; share one between the worker threads."""
    config = Config(
        retries=_RETRIES, max_pool_connections=max_connections, connect_timeout=5, read_timeout=30
    )
    return boto3.client("dynamodb", config=config)


def s3_client(max_connections: int = 16) -> "S3Client":
    config = Config(
        retries=_RETRIES, max_pool_connections=max_connections, connect_timeout=5, read_timeout=60
    )
    return boto3.client("s3", config=config)
