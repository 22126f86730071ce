"""A CLI restore killed with SIGKILL mid-way is finished by `resume` from its journal, exactly."""

import json
import signal
import subprocess
import time
from typing import TYPE_CHECKING

import pytest

from devtools.local_aws import LocalAws
from devtools.tables import scan_all
from tests.integration.cli_runner import cli, cli_command, cli_env

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_s3 import S3Client

pytestmark = pytest.mark.integration


def test_killed_restore_resumes_from_its_journal(
    dynamodb: "DynamoDBClient", s3: "S3Client", local_services: LocalAws, bucket: str, ledger_table: str
) -> None:
    env = cli_env()
    backup = json.loads(
        subprocess.run(  # noqa: S603 - our own CLI
            cli_command("backup", ledger_table, "--to", f"s3://{bucket}"),
            env=env,
            capture_output=True,
            check=True,
        ).stdout
    )
    target = f"{ledger_table}-killed"
    restore = subprocess.Popen(  # noqa: S603 - our own CLI
        cli_command(
            "restore",
            backup["location"],
            "--table",
            target,
            "--journal",
            f"s3://{bucket}",
            "--checkpoint-every",
            "0",
            "--max-items-per-second",
            "100",
            "--writers",
            "1",
        ),
        env=cli_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    checkpoints: list[str] = []
    while not checkpoints and time.monotonic() < deadline:
        listing = s3.list_objects_v2(Bucket=bucket, Prefix="backups/restores/")
        checkpoints = [o["Key"] for o in listing.get("Contents", []) if "/checkpoint-" in o["Key"]]
        time.sleep(0.05)
    restore.send_signal(signal.SIGKILL)
    assert restore.wait(timeout=10) == -signal.SIGKILL, "the restore must still have been running"
    assert checkpoints, "the restore journaled no checkpoint within 30 s"
    restore_id = checkpoints[0].split("/")[2]
    written = dynamodb.scan(TableName=target, Select="COUNT", ConsistentRead=True)["Count"]
    assert 0 < written < 399

    status = cli("restore-status", restore_id, "--in", f"s3://{bucket}")
    assert status["status"] == "continuing"
    assert 0 < status["items_restored"] <= written

    resumed = cli("resume", restore_id, "--in", f"s3://{bucket}")
    assert (resumed["status"], resumed["items_restored"], resumed["restore_id"]) == (
        "complete",
        399,
        restore_id,
    )
    assert scan_all(dynamodb, target, "book_id") == scan_all(dynamodb, ledger_table, "book_id")
