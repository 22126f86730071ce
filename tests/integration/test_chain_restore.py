"""A full DynamoDB export and two incrementals restored by the function into DynamoDB Local, exactly.

The exports are laid out in S3 (moto) as AWS documents them (tests/chain_story.py): whole, with
`until` between them and inside the second, into a new table and over an existing one (replace),
across invocations; a broken chain and a damaged incremental are refused with nothing written.
"""

import gzip
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pytest

import restore_handler
from devtools.lambda_context import ExpiringLambdaContext, FakeLambdaContext
from devtools.tables import create_table, load_items, scan_all
from ledger_backup.aws.tables import describe_table
from ledger_backup.errors import CorruptBackup, InvalidRequest, SchemaMismatch
from ledger_backup.sources.aws_incremental import open_incremental
from ledger_backup.storage.stores import LocalStore, S3Store
from tests.chain_story import MID, T1, T2, Chain, expected_state, full_book, iso, write_chain
from tests.integration.cli_runner import cli

if TYPE_CHECKING:
    from datetime import datetime
    from pathlib import Path

    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_s3 import S3Client

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("drop_own_tables")]

BOOK_ID = [{"AttributeName": "book_id", "KeyType": "HASH", "AttributeType": "S"}]


@pytest.fixture
def chain(s3: "S3Client", bucket: str) -> Chain:
    return write_chain(S3Store(s3, bucket), "backups/exports/")


@pytest.fixture
def ledger(unique_name: str, function_env: Callable[[str], None]) -> str:
    name = f"ledger-{unique_name}"
    function_env(name)
    return name


def event(chain: Chain, target: str, **fields: Any) -> dict[str, Any]:
    return {
        "s3_key": chain.full,
        "incrementals": chain.incrementals,
        "target_table": target,
        "key_schema": BOOK_ID,
        **fields,
    }


def table_state(dynamodb: "DynamoDBClient", table: str) -> dict[str, dict[str, Any]]:
    return scan_all(dynamodb, table, "book_id")


def by_id(items: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {item["book_id"]["S"]: item for item in items}


@pytest.mark.parametrize(
    ("until", "moment"), [(None, T2), (iso(T1), T1), (iso(MID), MID)], ids=["whole", "between", "inside"]
)
def test_a_chain_restores_into_a_new_table_exactly(
    dynamodb: "DynamoDBClient",
    chain: Chain,
    ledger: str,
    context: Any,
    until: str | None,
    moment: "datetime",
) -> None:
    target = f"{ledger}-at"
    fields = {} if until is None else {"until": until}
    result = restore_handler.handler(event(chain, target, **fields), context)
    assert result["status"] == "complete"
    assert result["items_restored"] == len(expected_state(moment))
    assert table_state(dynamodb, target) == by_id(expected_state(moment))


def test_replace_over_an_existing_table_ends_equal_to_the_chain(
    dynamodb: "DynamoDBClient", chain: Chain, ledger: str, context: Any
) -> None:
    create_table(dynamodb, ledger, hash_key="book_id")
    drifted = [
        {**full_book(1), "pages": {"N": "999"}},  # the update that dropped pages must drop it here too
        full_book(2),  # deleted by the first incremental
        {"book_id": {"S": "stray"}},  # never in the chain
        *expected_state()[10:20],
    ]
    load_items(dynamodb, ledger, drifted)
    result = restore_handler.handler(event(chain, ledger, mode="replace", overwrite=True), context)
    assert result["status"] == "complete"
    assert table_state(dynamodb, ledger) == by_id(expected_state())
    assert result["items_deleted"] == 2  # b2 and stray


def test_a_chain_restore_carries_on_across_invocations(
    dynamodb: "DynamoDBClient",
    chain: Chain,
    ledger: str,
    self_invocations: list[dict[str, Any]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CONTINUATION_MARGIN_SECONDS", "60")
    target = f"{ledger}-chained"
    results = [restore_handler.handler(event(chain, target, until=iso(MID)), ExpiringLambdaContext(calls=1))]
    while results[-1]["status"] == "continuing":
        results.append(restore_handler.handler(self_invocations.pop(0), ExpiringLambdaContext(calls=1)))
    # the next invocation reopened the chain and went on where the first one stopped
    assert [r["status"] for r in results] == ["continuing", "complete"]
    assert 0 < results[0]["items_restored"] < len(expected_state(MID))
    assert results[-1]["items_restored"] == len(expected_state(MID))
    assert table_state(dynamodb, target) == by_id(expected_state(MID))


def test_a_gap_in_the_chain_is_refused_before_the_first_write(
    dynamodb: "DynamoDBClient", chain: Chain, ledger: str, context: Any
) -> None:
    target = f"{ledger}-gap"
    gap = Chain(chain.full, chain.incrementals[1:])
    with pytest.raises(CorruptBackup, match="the chain is broken at incremental 1"):
        restore_handler.handler(event(gap, target), context)
    report = restore_handler.handler(event(gap, target, dry_run=True), context)
    assert report["status"] == "corrupt"
    assert "the chain is broken" in report["problems"][0]
    assert describe_table(dynamodb, target) is None


def test_a_damaged_incremental_is_refused_and_the_table_left_as_it_was(
    dynamodb: "DynamoDBClient", s3: "S3Client", bucket: str, chain: Chain, ledger: str, context: Any
) -> None:
    store = S3Store(s3, bucket)
    create_table(dynamodb, ledger, hash_key="book_id")
    load_items(dynamodb, ledger, [full_book(7)])
    data = next(f for f in open_incremental(store, chain.incrementals[0]).files if f.item_count)
    store.put(
        data.key, gzip.compress(gzip.decompress(store.get(data.key)).replace(b"t1 revised", b"t1 revisec"))
    )
    with pytest.raises(CorruptBackup, match=r"checksum mismatch: manifest-files\.json says MD5"):
        restore_handler.handler(event(chain, ledger, mode="replace", overwrite=True), context)
    assert table_state(dynamodb, ledger) == by_id([full_book(7)])


def test_chain_requests_that_cannot_be_met_are_refused(
    dynamodb: "DynamoDBClient", chain: Chain, ledger: str, context: Any
) -> None:
    target = f"{ledger}-refused"
    with pytest.raises(InvalidRequest, match="is after the chain's end"):
        restore_handler.handler(event(chain, target, until="2030-01-01T00:00:00Z"), context)
    with pytest.raises(InvalidRequest, match="until needs incrementals"):
        restore_handler.handler({"s3_key": chain.full, "target_table": target, "until": iso(T1)}, context)
    with pytest.raises(InvalidRequest, match=r"is not one .*give the incremental exports' keys"):
        restore_handler.handler({**event(chain, target), "incrementals": "all"}, context)
    with pytest.raises(InvalidRequest, match="outside the backup prefix"):
        restore_handler.handler({**event(chain, target), "incrementals": ["elsewhere/x"]}, context)
    other_key = [{"AttributeName": "isbn", "KeyType": "HASH", "AttributeType": "S"}]
    with pytest.raises(SchemaMismatch, match="records are keyed by book_id"):
        restore_handler.handler({**event(chain, target), "key_schema": other_key}, FakeLambdaContext())
    assert describe_table(dynamodb, target) is None


def test_the_cli_restores_and_verifies_a_chain(
    dynamodb: "DynamoDBClient", s3: "S3Client", bucket: str, tmp_path: "Path", unique_name: str
) -> None:
    local = write_chain(LocalStore(tmp_path), "exports/")
    folders = [
        str(tmp_path / key.removesuffix("manifest-summary.json")) for key in [local.full, *local.incrementals]
    ]
    target = f"cli-chain-{unique_name}"
    result = cli(
        "restore", folders[0], "--incremental", folders[1], "--incremental", folders[2],
        "--until", iso(MID), "--table", target, "--hash-key", "book_id:S",
    )  # fmt: skip
    assert result["items_restored"] == len(expected_state(MID))
    assert table_state(dynamodb, target) == by_id(expected_state(MID))
    remote = write_chain(S3Store(s3, bucket), "exports/")
    checked = cli(
        "verify", f"s3://{bucket}/{remote.full}",
        *[arg for key in remote.incrementals for arg in ("--incremental", f"s3://{bucket}/{key}")],
    )  # fmt: skip
    assert (checked["status"], checked["item_count"]) == ("verified", len(expected_state()))
    refused = cli("verify", folders[0], "--incremental", folders[2], expect=2)
    assert "the chain is broken at incremental 1" in refused


def test_a_plan_compares_the_table_with_the_chain_state(
    dynamodb: "DynamoDBClient", chain: Chain, ledger: str, context: Any
) -> None:
    create_table(dynamodb, ledger, hash_key="book_id")
    load_items(dynamodb, ledger, [*expected_state()[:50], full_book(2), {"book_id": {"S": "stray"}}])
    report = restore_handler.handler(event(chain, ledger, dry_run=True), context)
    assert report["status"] == "verified"
    # b2 (deleted by the chain) and stray are the table's extras; the state's last 9 books are missing
    assert report["changes"] == {"missing": len(expected_state()) - 50, "changed": 0, "same": 50, "extra": 2}
