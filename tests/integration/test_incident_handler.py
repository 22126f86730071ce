"""The incident playbook through the restore Lambda's handler and the CLI, on the S3 server and
DynamoDB Local: plan (dry run), then missing, then replace of the plan's keys; the report is an
object under the function's prefix and feeds back as `keys_s3_key` / `--keys`.
"""

import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

import backup_handler
import restore_handler
from devtools.ledger_items import ledger_items
from devtools.sample_events import scheduled_event
from devtools.tables import scan_all
from ledger_backup.errors import InvalidRequest
from tests.integration.cli_runner import cli
from tests.integration.incidents import BOOKS, bad_day

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_s3 import S3Client

pytestmark = pytest.mark.integration


@pytest.fixture
def after_bad_day(
    dynamodb: "DynamoDBClient", ledger_table: str, function_env: Callable[[str], None], context: Any
) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """The ledger backed up by the function, then the bad day; its backup answer and what changed."""
    function_env(ledger_table)
    backup = backup_handler.handler(scheduled_event(), context)
    original = scan_all(dynamodb, ledger_table, "book_id")
    truth = bad_day(dynamodb, ledger_table, list(ledger_items(BOOKS)))
    return ledger_table, backup, {**truth, "original": original}


def test_plan_then_missing_then_replace_of_the_plans_keys(
    dynamodb: "DynamoDBClient",
    s3: "S3Client",
    bucket: str,
    after_bad_day: tuple[str, dict[str, Any], dict[str, Any]],
    context: Any,
) -> None:
    table, backup, truth = after_bad_day
    event = {"s3_key": backup["s3_key"], "target_table": table}
    plan = restore_handler.handler({**event, "dry_run": True}, context)
    assert plan["status"] == "verified"
    assert plan["changes"] == {"missing": 7, "changed": 5, "same": BOOKS - 12, "extra": 3}
    report_key = plan["report_key"].removeprefix(f"s3://{bucket}/")
    assert report_key.startswith(f"backups/restores/reports/{table}/")
    lines = s3.get_object(Bucket=bucket, Key=report_key)["Body"].read().decode().splitlines()
    assert (
        sorted(json.loads(line)["change"] for line in lines)
        == ["changed"] * 5 + ["extra"] * 3 + ["missing"] * 7
    )

    missing = restore_handler.handler({**event, "mode": "missing", "keys_s3_key": report_key}, context)
    assert missing["status"] == "complete"
    assert (missing["items_restored"], missing["items_skipped"], missing["keys_not_in_backup"]) == (7, 5, 3)
    after = scan_all(dynamodb, table, "book_id")
    assert all(after[book_id] == truth["original"][book_id] for book_id in truth["missing"])

    replaced = restore_handler.handler(
        {**event, "mode": "replace", "overwrite": True, "keys_s3_key": report_key}, context
    )
    assert (replaced["items_restored"], replaced["items_deleted"], replaced["keys_not_in_backup"]) == (
        12,
        3,
        3,
    )
    assert scan_all(dynamodb, table, "book_id") == truth["original"]
    again = restore_handler.handler({**event, "dry_run": True}, context)
    assert again["changes"] == {"missing": 0, "changed": 0, "same": BOOKS, "extra": 0}


def test_event_fields_are_checked_before_anything_is_read(
    after_bad_day: tuple[str, dict[str, Any], dict[str, Any]], context: Any
) -> None:
    table, backup, _ = after_bad_day
    event = {"s3_key": backup["s3_key"], "target_table": table}
    with pytest.raises(InvalidRequest, match="mode"):
        restore_handler.handler({**event, "mode": "merge"}, context)
    with pytest.raises(InvalidRequest, match="give keys or keys_s3_key, not both"):
        restore_handler.handler(
            {**event, "keys": [{"book_id": {"S": "a"}}], "keys_s3_key": "backups/k"}, context
        )
    with pytest.raises(
        InvalidRequest, match=r"keys_s3_key 'elsewhere/keys\.jsonl' is outside the backup prefix"
    ):
        restore_handler.handler({**event, "mode": "missing", "keys_s3_key": "elsewhere/keys.jsonl"}, context)
    with pytest.raises(InvalidRequest, match="keys"):
        restore_handler.handler({**event, "keys": [{"book_id": {"S": "a"}}] * 1001}, context)


def test_cli_diff_then_restore_of_its_report(
    dynamodb: "DynamoDBClient",
    bucket: str,
    after_bad_day: tuple[str, dict[str, Any], dict[str, Any]],
    tmp_path: Path,
) -> None:
    table, backup, truth = after_bad_day
    source = f"s3://{bucket}/{backup['s3_key']}"
    out = tmp_path / "plan.jsonl"
    plan = cli("diff", source, "--against", table, "--out", str(out))
    assert plan["changes"] == {"missing": 7, "changed": 5, "same": BOOKS - 12, "extra": 3}
    assert plan["report_key"] == str(out)
    assert len(out.read_text().splitlines()) == 15
    done = cli("restore", source, "--table", table, "--mode", "replace", "--overwrite", "--keys", str(out))
    assert (done["items_restored"], done["items_deleted"]) == (12, 3)
    assert scan_all(dynamodb, table, "book_id") == truth["original"]
