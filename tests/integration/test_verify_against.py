"""The CLI's verify, list, latest and old-format backup, and `verify --against` checking a restore.

The CLI runs in-process (`cli.main`) against DynamoDB Local and the S3 server; test_cli.py
covers the same entry point as a real subprocess.
"""

import gzip
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
import pytest

from devtools.ledger_items import ledger_items
from devtools.legacy_formats import scan_json_document, write_aws_export
from devtools.local_aws import LocalAws
from devtools.tables import create_table, load_items
from ledger_backup import cli
from ledger_backup.aws.tables import table_items
from ledger_backup.storage.stores import LocalStore

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

pytestmark = pytest.mark.integration

BOOKS = 399


@pytest.fixture(scope="module")
def ledger(local_services: LocalAws) -> str:
    """The runbook's ledger, loaded once: tests here only read it."""
    name = f"ledger-verify-{os.getpid()}"
    dynamodb = boto3.client("dynamodb")
    create_table(dynamodb, name, hash_key="book_id")
    load_items(dynamodb, name, list(ledger_items(BOOKS)))
    return name


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, Any, str]:
    """Exit code, the JSON printed on stdout (None if nothing), and stderr."""
    code = cli.main(list(args))
    out, err = capsys.readouterr()
    return code, json.loads(out) if out.strip() else None, err


def test_old_format_backup_restores_and_verifies_against_the_copy(
    dynamodb: "DynamoDBClient",
    ledger: str,
    unique_name: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    backup_file = tmp_path / "data" / f"dynamodb_backup_{ledger}_2026-02-14.json"
    code, written, _ = run(capsys, "backup", ledger, "--format", "scan-json", "--to", str(backup_file))
    assert (code, written["item_count"], written["compressed"]) == (0, BOOKS, False)
    # The runbook's "Verify backup" one-liner still works, on exactly what `aws dynamodb scan` prints.
    with backup_file.open() as f:
        assert len(json.load(f)["Items"]) == BOOKS
    assert backup_file.read_bytes() == scan_json_document(list(table_items(dynamodb, ledger)))

    copy = f"{ledger}-{unique_name}"
    code, _, error = run(capsys, "restore", str(backup_file), "--table", copy)
    assert code == 2
    assert "records no key schema" in error
    assert "--hash-key" in error
    code, restored, _ = run(capsys, "restore", str(backup_file), "--table", copy, "--hash-key", "book_id:S")
    assert (code, restored["kind"], restored["items_restored"]) == (0, "scan-json", BOOKS)

    code, checked, _ = run(capsys, "verify", str(backup_file), "--against", copy)
    assert code == 0
    assert (checked["status"], checked["keys_checked"]) == ("verified", "book_id (S, HASH)")
    against = checked["against"]
    assert (against["verdict"], against["backup_items"], against["table_items"]) == ("match", BOOKS, BOOKS)
    assert against["backup_digest"] == against["table_digest"]

    first = next(iter(table_items(dynamodb, copy)))["book_id"]
    dynamodb.update_item(
        TableName=copy,
        Key={"book_id": first},
        UpdateExpression="SET #s = :s",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":s": {"S": "edited by hand"}},
    )
    code, checked, error = run(capsys, "verify", str(backup_file), "--against", copy)
    assert (code, checked["against"]["verdict"], checked["against"]["table_items"]) == (2, "mismatch", BOOKS)
    assert error.startswith(f"error: table '{copy}' does not hold exactly the backup's items")
    assert error.count("\n") == 1


def test_s3_backups_list_latest_and_gzipped_old_format(
    s3: Any, bucket: str, ledger: str, unique_name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, written, _ = run(
        capsys, "backup", ledger, "--format", "scan-json", "--to", f"s3://{bucket}/legacy/{ledger}.json.gz"
    )
    assert (code, written["compressed"], written["item_count"]) == (0, True, BOOKS)
    raw = s3.get_object(Bucket=bucket, Key=f"legacy/{ledger}.json.gz")["Body"].read()
    assert len(json.loads(gzip.decompress(raw))["Items"]) == BOOKS

    code, backup, _ = run(capsys, "backup", ledger, "--to", f"s3://{bucket}")
    assert code == 0
    code, rows, _ = run(capsys, "list", ledger, "--in", f"s3://{bucket}")
    assert [(r["backup"], r["items"], r["files"] > 0) for r in rows] == [(backup["location"], BOOKS, True)]
    assert rows[0]["started_at"] <= rows[0]["finished_at"]

    target = f"{ledger}-{unique_name}"
    code, restored, _ = run(capsys, "restore", f"s3://{bucket}", "--latest-of", ledger, "--table", target)
    assert (code, restored["source"], restored["items_restored"]) == (0, backup["location"], BOOKS)
    code, checked, _ = run(capsys, "verify", f"s3://{bucket}", "--latest-of", ledger, "--against", target)
    assert (code, checked["against"]["verdict"]) == (0, "match")
    code, checked, _ = run(capsys, "verify", f"s3://{bucket}/legacy/{ledger}.json.gz", "--against", target)
    assert (code, checked["kind"], checked["keys_checked"], checked["against"]["verdict"]) == (
        0,
        "scan-json",
        "book_id (S, HASH)",  # from the table, since the old format records none
        "match",
    )


def test_export_folder_verifies_and_damage_is_reported(
    dynamodb: "DynamoDBClient", ledger: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    summary_key = write_aws_export(LocalStore(tmp_path), list(table_items(dynamodb, ledger)), files=3)
    export_folder = tmp_path / summary_key.removesuffix("manifest-summary.json")
    code, checked, _ = run(capsys, "verify", str(export_folder), "--against", ledger)
    assert (code, checked["kind"], checked["item_count"], checked["against"]["verdict"]) == (
        0,
        "dynamodb-export",
        BOOKS,
        "match",
    )
    assert checked["object_bytes"] == sum(p.stat().st_size for p in (export_folder / "data").iterdir())

    damaged = sorted((export_folder / "data").iterdir())[0]
    damaged.write_bytes(damaged.read_bytes()[:-20])
    code, checked, error = run(capsys, "verify", str(export_folder / "manifest-summary.json"))
    assert (code, checked["status"], len(checked["problems"])) == (2, "corrupt", 1)
    assert error.startswith("error: ")
    assert f"{damaged}: the gzip stream is damaged or truncated" in error
    assert error.count("\n") == 1


def test_verify_against_a_missing_table_says_so(
    ledger: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, _ = run(capsys, "backup", ledger, "--to", str(tmp_path))
    assert code == 0
    code, _, error = run(capsys, "verify", str(tmp_path), "--latest-of", ledger, "--against", "nope-table")
    assert code == 2
    assert "error: table 'nope-table' does not exist" in error
