"""Integration fixtures: a ledger table, an edge-case table, and the functions' environment."""

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from devtools.edge_items import edge_items
from devtools.tables import create_ledger_table, create_table, load_items
from ledger_backup.storage.stores import LocalStore
from runtime import continuation
from tests.conftest import configure_functions
from tests.integration.incidents import ledger_after_a_bad_day

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

pytestmark = pytest.mark.integration

LEDGER_BOOKS = 399


@pytest.fixture
def ledger_table(dynamodb: "DynamoDBClient", unique_name: str) -> str:
    name = f"ledger-{unique_name}"
    create_ledger_table(dynamodb, name, LEDGER_BOOKS)
    return name


@pytest.fixture
def edge_table(dynamodb: "DynamoDBClient", unique_name: str) -> str:
    """Every item type, with a sort key, a GSI, an LSI and TTL, so the whole schema is exercised."""
    name = f"edge-{unique_name}"
    create_table(
        dynamodb,
        name,
        hash_key="pk",
        KeySchema=[{"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[
            {"AttributeName": "sk", "AttributeType": "N"},
            {"AttributeName": "kind", "AttributeType": "S"},
            {"AttributeName": "rank", "AttributeType": "N"},
        ],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "by-kind",
                "KeySchema": [{"AttributeName": "kind", "KeyType": "HASH"}],
                "Projection": {"ProjectionType": "INCLUDE", "NonKeyAttributes": ["s"]},
            }
        ],
        LocalSecondaryIndexes=[
            {
                "IndexName": "by-rank",
                "KeySchema": [
                    {"AttributeName": "pk", "KeyType": "HASH"},
                    {"AttributeName": "rank", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "KEYS_ONLY"},
            }
        ],
    )
    dynamodb.update_time_to_live(
        TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": "expires"}
    )
    items = [
        {**item, "sk": {"N": str(n)}, "kind": {"S": "edge"}, "rank": {"N": str(-n)}}
        for n, item in enumerate(edge_items())
    ]
    load_items(dynamodb, name, items)
    return name


@pytest.fixture
def function_env(monkeypatch: pytest.MonkeyPatch, bucket: str) -> Callable[[str], None]:
    """Configure the functions as the stack does, for the table given."""

    def configure(table: str) -> None:
        configure_functions(monkeypatch, table, bucket)

    return configure


@pytest.fixture
def self_invocations(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """The async self-invocations the handler asks Lambda for, captured so the test can deliver them."""
    sent: list[dict[str, Any]] = []
    monkeypatch.setattr(continuation, "invoke_self_async", lambda _context, payload: sent.append(payload))
    return sent


@pytest.fixture
def incident(
    dynamodb: "DynamoDBClient", unique_name: str, tmp_path: Path
) -> tuple[str, LocalStore, str, Any]:
    """The 399-book ledger backed up, then 7 books deleted, 5 changed, 3 junk rows added."""
    return ledger_after_a_bad_day(dynamodb, unique_name, tmp_path)
