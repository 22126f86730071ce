"""`python -m ledger_backup`: the runbook's local-file workflow and S3, through a real subprocess."""

import json
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from devtools.local_aws import LocalAws
from devtools.tables import scan_all
from tests.integration.cli_runner import cli, cli_env

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

pytestmark = pytest.mark.integration


def test_local_folder_workflow(
    dynamodb: "DynamoDBClient", local_services: LocalAws, ledger_table: str, tmp_path: Path
) -> None:
    backup = cli("backup", ledger_table, "--to", str(tmp_path))
    assert backup["item_count"] == 399
    manifest = Path(backup["location"])
    assert manifest.is_file()
    assert manifest.parent.parent == tmp_path / ledger_table

    listed = cli("list", ledger_table, "--in", str(tmp_path))
    assert [row["items"] for row in listed] == [399]
    verified = cli("verify", str(manifest.parent))
    assert (verified["status"], verified["item_count"]) == ("verified", 399)

    restored = cli("restore", str(manifest.parent), "--table", f"{ledger_table}-from-file")
    assert restored["items_restored"] == 399
    assert scan_all(dynamodb, f"{ledger_table}-from-file", "book_id") == scan_all(
        dynamodb, ledger_table, "book_id"
    )

    again = cli("restore", str(manifest), "--table", f"{ledger_table}-from-file", expect=2)
    assert again.strip().startswith("error: target table")
    assert "already holds items" in again


def test_s3_workflow(local_services: LocalAws, ledger_table: str, bucket: str) -> None:
    backup = cli("backup", ledger_table, "--to", f"s3://{bucket}")
    assert backup["s3_key"].startswith(f"backups/{ledger_table}/")
    verified = cli("verify", f"s3://{bucket}/{backup['s3_key']}")
    assert verified["item_count"] == 399
    assert cli("list", ledger_table, "--in", f"s3://{bucket}")[0]["backup"] == backup["location"]


def test_cli_errors_are_one_line(local_services: LocalAws, tmp_path: Path) -> None:
    message = cli("verify", str(tmp_path / "nothing-here"), expect=2)
    assert message.startswith("error: no backup at ")
    assert message.count("\n") == 1


def test_the_installed_command_runs_the_same_cli(tmp_path: Path) -> None:
    """`make venv` installs the project (pip install -e .): `ledger-backup` is on the venv's PATH."""
    command = Path(sys.executable).parent / "ledger-backup"
    done = subprocess.run(  # noqa: S603 - the project's own entry point
        [str(command), "list", "jsmith-pipeline-ledger", "--in", str(tmp_path)],
        capture_output=True,
        text=True,
        env=cli_env(),
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == []
    usage = subprocess.run(  # noqa: S603
        [str(command), "restore"], capture_output=True, text=True, env=cli_env(), check=False
    )
    assert usage.returncode == 2
    assert usage.stderr.strip().endswith("(see `ledger-backup restore --help`)")
