"""boto3 clients configured for bulk work: botocore's standard retries, enough pooled connections, timeouts.

Endpoints come only from the standard AWS settings (AWS_ENDPOINT_URL_DYNAMODB,
AWS_ENDPOINT_URL_S3, ...): this code has no endpoint switches of its own.

The fast paths over DynamoDB's wire JSON each live in a module of their own, and each is
either a mode fixed when a client is built or an object that is handed its client:
- aws.scan_json: `dynamodb_client(fast_json=True)`, Scan items parsed by the json module;
- aws.scan_texts.TextScanner: Scan pages as the items' JSON texts (what a backup stores);
- aws.write_json.TextBatchSender: BatchWriteItem of write requests that are JSON text already.
"""

from typing import TYPE_CHECKING, Protocol, cast

import boto3
from botocore.config import Config

from ledger_backup.aws.scan_json import parse_scan_items_with_json

if TYPE_CHECKING:
    from botocore.config import _RetryDict
    from botocore.credentials import Credentials
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_s3 import S3Client

# "standard" retries throttling (ProvisionedThroughputExceeded, ThrottlingException, RequestLimitExceeded),
# 5xx and connection errors with exponential backoff and jitter; total_max_attempts counts the first call too.
_RETRIES: "_RetryDict" = {"mode": "standard", "total_max_attempts": 10}


def dynamodb_client(max_connections: int = 16, *, fast_json: bool = True) -> "DynamoDBClient":
    """A thread-safe client; share one between the worker threads.

    `fast_json`, fixed for the client's life: its Scan items are parsed by the json module
    (aws.scan_json), the same values botocore's own parser gives, without walking every
    attribute value in Python.
    """
    config = Config(
        retries=_RETRIES, max_pool_connections=max_connections, connect_timeout=5, read_timeout=30
    )
    client = boto3.client("dynamodb", config=config)
    if fast_json:
        parse_scan_items_with_json(client)
    return client


def s3_client(max_connections: int = 16) -> "S3Client":
    config = Config(
        retries=_RETRIES, max_pool_connections=max_connections, connect_timeout=5, read_timeout=60
    )
    return boto3.client("s3", config=config)


class _Signer(Protocol):
    _credentials: "Credentials | None"


class _SignedClient(Protocol):
    _request_signer: _Signer


def dynamodb_client_like(client: "DynamoDBClient") -> "DynamoDBClient":
    """A new client with `client`'s region, endpoint, configuration and credentials, not its event handlers.

    For a fast path that needs a client in a mode of its own: the caller's client stays as
    it is. The credentials are the very object `client` signs with (refreshed when it is),
    not a second look-up that could find other ones; botocore has no public accessor for them.
    """
    meta = client.meta
    like = boto3.client(
        "dynamodb", region_name=meta.region_name, endpoint_url=meta.endpoint_url, config=meta.config
    )
    credentials = cast(_SignedClient, client)._request_signer._credentials
    cast(_SignedClient, like)._request_signer._credentials = credentials
    return like
