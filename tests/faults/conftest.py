"""Fault fixtures: fault-injecting proxies in front of DynamoDB Local and the S3 server.

The direct clients (`dynamodb`, `s3`) are made before the proxies take over the
AWS_ENDPOINT_URL_* variables, so a test reads and checks through them, unharmed, while
the code under test (whose clients are made later, from the environment) goes through
the faults.
"""

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pytest
from botocore.retries.standard import ExponentialBackoff

from devtools.fault_proxy import Fault, FaultPolicy, FaultProxy, fault_proxy
from devtools.local_aws import LocalAws
from devtools.tables import create_ledger_table
from tests.conftest import configure_functions

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_s3 import S3Client

LEDGER_BOOKS = 600
# A backup of the ledger table writes one data file per scan segment (function_environ: SCAN_SEGMENTS=3),
# each in one PutObject, and then its manifest.
DATA_FILE_PUTS = 3


@dataclass(frozen=True)
class Proxies:
    dynamodb: FaultProxy
    s3: FaultProxy

    def inject(self, dynamodb: FaultPolicy | None = None, s3: FaultPolicy | None = None) -> None:
        """Faults from now on; None for a service means none there."""
        self.dynamodb.set_policy(dynamodb or FaultPolicy())
        self.s3.set_policy(s3 or FaultPolicy())

    def report(self) -> str:
        """One line for the test log: what each proxy saw and injected."""
        return f"DynamoDB {self.dynamodb.summary()}; S3 {self.s3.summary()}"


def manifest_put_fault(fault: Fault, **policy: Any) -> FaultPolicy:
    """S3 answers the backup's manifest PutObject (and every PutObject after it) with ``fault``.

    The data files' PutObjects before it get through; ``policy`` adds FaultPolicy options (limit, ...).
    """
    puts = frozenset({"PutObject"})
    return FaultPolicy(rates={fault: 1.0}, operations=puts, after=DATA_FILE_PUTS, **policy)


@pytest.fixture
def proxies(
    local_services: LocalAws,
    dynamodb: "DynamoDBClient",
    s3: "S3Client",
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Proxies]:
    """Proxies that inject nothing until told to; boto3 clients made from now on use them."""
    with (
        fault_proxy(local_services.dynamodb_endpoint) as dynamodb_proxy,
        fault_proxy(local_services.s3_endpoint) as s3_proxy,
    ):
        monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", dynamodb_proxy.url)
        monkeypatch.setenv("AWS_ENDPOINT_URL_S3", s3_proxy.url)
        yield Proxies(dynamodb_proxy, s3_proxy)


@pytest.fixture
def ledger_table(dynamodb: "DynamoDBClient", unique_name: str) -> str:
    """600 realistic ledger books, written directly (not through the faults)."""
    name = f"ledger-{unique_name}"
    create_ledger_table(dynamodb, name, LEDGER_BOOKS)
    return name


@pytest.fixture
def function_env(monkeypatch: pytest.MonkeyPatch, bucket: str, ledger_table: str) -> str:
    """The functions' environment, as the stack sets it, for the ledger table; returns the bucket."""
    configure_functions(monkeypatch, ledger_table, bucket)
    return bucket


@pytest.fixture
def short_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    """botocore's retry delays divided by 20: the same attempts, limits and decisions, less waiting.

    For tests that wait out the whole retry budget (10 attempts of a 500 back off for ~13 s on S3).
    """
    original = ExponentialBackoff.delay_amount

    def shorter(self: ExponentialBackoff, context: Any) -> float:
        return float(original(self, context)) / 20

    monkeypatch.setattr(ExponentialBackoff, "delay_amount", shorter)
