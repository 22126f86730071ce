"""Event validation: good events pass, anything else is refused with one message naming the field."""

from typing import Any

import pytest

from devtools.sample_events import scheduled_event
from ledger_backup.errors import InvalidRequest
from runtime.events import (
    RestoreRequest,
    chain_invocation,
    parse_backup_trigger,
    parse_event,
    parse_restore_event,
)


def test_scheduled_event_and_manual_trigger_are_accepted() -> None:
    assert parse_backup_trigger(scheduled_event()).description.startswith("Scheduled Event ")
    assert parse_backup_trigger({}).description == "manual"
    continuation = parse_backup_trigger({"continuation": {"checkpoint_key": "backups/t/x/progress/c.json"}})
    assert continuation.checkpoint_key == "backups/t/x/progress/c.json"
    assert continuation.invocation == 1, "a continuation sent by hand starts a new chain"
    assert parse_backup_trigger(scheduled_event()).invocation == parse_backup_trigger({}).invocation == 1


def test_a_continuation_carries_its_number_in_the_chain() -> None:
    event = {"continuation": {"checkpoint_key": "backups/t/x/progress/c.json", "invocation": 7}}
    assert parse_backup_trigger(event).invocation == 7
    assert chain_invocation(parse_restore_event(event)) == 7
    assert chain_invocation(parse_restore_event({"resume": "20261203T081500Z-1a2b3c4d"})) == 1
    request = {"s3_key": "backups/t/x/manifest.json", "target_table": "ledger-restored"}
    assert chain_invocation(parse_restore_event(request)) == 1


@pytest.mark.parametrize(
    "event",
    [
        {"continuation": {}},
        {"continuation": {"checkpoint_key": 1}},
        {"continuation": {"checkpoint_key": "k", "x": 1}},
        {"continuation": {"checkpoint_key": "k", "invocation": 0}},
        {"continuation": {"checkpoint_key": "k", "invocation": 1001}},
        {"continuation": {"checkpoint_key": "k", "invocation": "2"}},
        {"continuation": {"checkpoint_key": "k", "invocation": True}},
    ],
)
def test_malformed_continuation_is_refused(event: dict[str, Any]) -> None:
    with pytest.raises(InvalidRequest, match="invalid ContinuationEvent"):
        parse_backup_trigger(event)


@pytest.mark.parametrize("event", [None, [], "backup", {"foo": "bar"}, {"source": "aws.events"}])
def test_backup_refuses_what_is_not_an_eventbridge_event(event: Any) -> None:
    with pytest.raises(InvalidRequest):
        parse_backup_trigger(event)


def test_restore_request_defaults() -> None:
    request = parse_event(
        {"s3_key": "backups/t/x/manifest.json", "target_table": "ledger-restored"}, RestoreRequest
    )
    assert (request.bucket, request.create_table, request.overwrite) == (None, True, False)


@pytest.mark.parametrize(
    ("event", "problem"),
    [
        ({}, "s3_key: Field required; target_table: Field required"),
        (
            {"s3_key": "k", "target_table": "ledger", "overwrit": True},
            "overwrit: Extra inputs are not permitted",
        ),
        (
            {"s3_key": "k", "target_table": "ledger", "overwrite": "yes"},
            "overwrite: Input should be a valid boolean",
        ),
        ({"s3_key": "k", "target_table": "no spaces allowed"}, "target_table: String should match pattern"),
        ({"s3_key": "k", "target_table": "ab"}, "target_table: String should match pattern"),
        ({"s3_key": "", "target_table": "ledger"}, "s3_key: String should have at least 1 character"),
        (
            {"s3_key": "k" * 5000, "target_table": "ledger"},
            "s3_key: String should have at most 1024 characters",
        ),
        ({"s3_key": 5, "target_table": "ledger"}, "s3_key: Input should be a valid string"),
        ({"s3_key": "k", "target_table": "ledger", "bucket": "Not_A_Bucket"}, "bucket: String should match"),
    ],
)
def test_bad_restore_requests_are_refused(event: dict[str, Any], problem: str) -> None:
    with pytest.raises(InvalidRequest, match="invalid RestoreRequest") as caught:
        parse_event(event, RestoreRequest)
    assert problem in str(caught.value)
    assert len(str(caught.value)) < 400  # huge inputs are not echoed back


def test_non_object_event_is_refused() -> None:
    with pytest.raises(InvalidRequest, match="must be a JSON object, not list"):
        parse_event([], RestoreRequest)


HASH = {"AttributeName": "book_id", "KeyType": "HASH", "AttributeType": "S"}


@pytest.mark.parametrize(
    ("key_schema", "problem"),
    [
        (
            [{**HASH, "KeyType": "RANGE"}],
            "key_schema: Value error, needs exactly one HASH key and at most one RANGE key, e.g. [",
        ),
        ([HASH, {**HASH, "AttributeName": "b"}], "key_schema: Value error, needs exactly one HASH key"),
        ([HASH, {**HASH, "KeyType": "RANGE"}], "key_schema: Value error, names the same attribute twice"),
    ],
)
def test_key_schema_rules_are_the_cores_and_refuse_while_parsing(
    key_schema: list[dict[str, str]], problem: str
) -> None:
    """The core's key_schema_from_json decides; the event says which field, before any work starts."""
    with pytest.raises(InvalidRequest) as caught:
        parse_event({"s3_key": "k", "target_table": "ledger", "key_schema": key_schema}, RestoreRequest)
    assert str(caught.value).startswith(f"invalid RestoreRequest: {problem}")


def test_a_valid_key_schema_is_kept_as_given() -> None:
    request = parse_event(
        {
            "s3_key": "k",
            "target_table": "ledger",
            "key_schema": [{**HASH, "KeyType": "RANGE", "AttributeName": "sk"}, HASH],
        },
        RestoreRequest,
    )
    assert request.key_schema is not None
    assert [k.AttributeName for k in request.key_schema] == ["sk", "book_id"]
