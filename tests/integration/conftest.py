"""Integration fixtures: a ledger table, an edge-case table, the functions' environment, and the IAM check.

Every call a handler makes in any test here is recorded and checked against the synthesized role of
its function (`handler_calls`, tests/integration/iam_calls.py): a call the deployed role would deny
fails the test that made it.
"""

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from botocore.awsrequest import AWSResponse
from botocore.compat import HTTPHeaders

import backup_handler
import restore_handler
from devtools.edge_items import edge_items
from devtools.tables import create_ledger_table, create_table, load_items
from ledger_backup.storage.stores import LocalStore
from tests.conftest import configure_functions
from tests.integration.iam_calls import (
    SUMMARY_KEY,
    CallLog,
    DeployedRoles,
    SessionSummary,
    default_session,
    evaluate,
)
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
def self_invocations() -> Iterator[list[dict[str, Any]]]:
    """The async self-invocations the handler asks Lambda for, captured so the test can deliver them.

    The handler's own Lambda client makes the Invoke call (so it is recorded and checked like any
    other); botocore's before-call answers it here as Lambda answers an Event invocation, 202.
    """
    sent: list[dict[str, Any]] = []

    def answer(params: dict[str, Any], **_: Any) -> tuple[AWSResponse, dict[str, Any]]:
        assert params["headers"].get("X-Amz-Invocation-Type") == "Event", params["headers"]
        sent.append(json.loads(params["body"]))
        return AWSResponse(params["url"], 202, HTTPHeaders(), None), {"StatusCode": 202}

    events = default_session().events
    # botocore-stubs type handlers as returning None, but a before-call handler's answer is the response.
    events.register("before-call.lambda.Invoke", answer, unique_id="tests.self_invocations")  # type: ignore[arg-type]
    yield sent
    events.unregister("before-call.lambda.Invoke", unique_id="tests.self_invocations")


@pytest.fixture(scope="session")
def deployed_roles(tmp_path_factory: pytest.TempPathFactory) -> DeployedRoles:
    """The functions' roles from the synthesized stack (synthesized once a handler has called AWS)."""
    return DeployedRoles(tmp_path_factory.mktemp("iam-cdk.out"))


@pytest.fixture(autouse=True)
def handler_calls(
    monkeypatch: pytest.MonkeyPatch, deployed_roles: DeployedRoles, request: pytest.FixtureRequest
) -> Iterator[CallLog]:
    """Both handlers, run as their deployed functions; afterwards each call is checked against its role."""
    log = CallLog()
    monkeypatch.setattr(backup_handler, "handler", log.recording("backup", backup_handler.handler))
    monkeypatch.setattr(restore_handler, "handler", log.recording("restore", restore_handler.handler))
    yield log
    if not log.calls:
        return
    verdicts = evaluate(log.calls, deployed_roles.policy)
    request.config.stash.setdefault(SUMMARY_KEY, SessionSummary()).add(log, verdicts, deployed_roles)
    problems = verdicts.problems()
    if problems:
        pytest.fail("calls the deployed roles would refuse:\n" + "\n".join(problems), pytrace=False)


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    """How many calls the IAM check saw, which actions, and what it could not prove."""
    summary = config.stash.get(SUMMARY_KEY, None)
    if summary is not None:
        terminalreporter.section("IAM calls of the handlers")
        for line in summary.lines():
            terminalreporter.write_line(line)


@pytest.fixture
def incident(
    dynamodb: "DynamoDBClient", unique_name: str, tmp_path: Path
) -> tuple[str, LocalStore, str, Any]:
    """The 399-book ledger backed up, then 7 books deleted, 5 changed, 3 junk rows added."""
    return ledger_after_a_bad_day(dynamodb, unique_name, tmp_path)


@pytest.fixture
def drop_own_tables(dynamodb: "DynamoDBClient", unique_name: str) -> Iterator[None]:
    """Delete the test's tables (named with its unique_name) from DynamoDB Local afterwards, so the
    session's table list stays short for tests that look tables up in it."""
    yield
    for page in dynamodb.get_paginator("list_tables").paginate():
        for name in page["TableNames"]:
            if unique_name in name:
                dynamodb.delete_table(TableName=name)
