"""Session-wide local AWS: DynamoDB Local and moto's S3 server on free loopback ports.

Integration tests get fresh clients and a fresh bucket; tables are named per test so
tests never see each other's data. The Lambda context and the functions' environment are
here too, shared by tests/integration and tests/faults.
"""

import itertools
import os
from collections.abc import Iterator
from typing import TYPE_CHECKING

import boto3
import pytest

from devtools.function_env import function_environ
from devtools.lambda_context import FakeLambdaContext
from devtools.local_aws import LocalAws, aws_environ, local_aws

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_s3 import S3Client

_names = itertools.count()


@pytest.fixture(scope="session")
def local_services() -> Iterator[LocalAws]:
    with local_aws() as services, aws_environ(services):
        yield services


@pytest.fixture
def dynamodb(local_services: LocalAws) -> "DynamoDBClient":
    return boto3.client("dynamodb")


@pytest.fixture
def s3(local_services: LocalAws) -> "S3Client":
    return boto3.client("s3")


@pytest.fixture
def unique_name() -> str:
    """A table or bucket name no other test uses."""
    return f"t{os.getpid()}-{next(_names):04d}"


@pytest.fixture
def bucket(s3: "S3Client", unique_name: str) -> str:
    name = f"backups-{unique_name}"
    s3.create_bucket(Bucket=name)
    return name


@pytest.fixture
def context() -> FakeLambdaContext:
    """What the Lambda runtime passes a handler, with the function's whole timeout left."""
    return FakeLambdaContext()


def configure_functions(monkeypatch: pytest.MonkeyPatch, table: str, bucket: str) -> None:
    """Give the functions the environment the stack sets (devtools.function_env), for this test only."""
    for name, value in function_environ(table, bucket).items():
        monkeypatch.setenv(name, value)
