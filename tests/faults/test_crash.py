"""A backup process killed mid-way leaves nothing that looks complete, and the next run starts clean.

The CLI runs in a subprocess against a proxy that holds the last scan segment's first Scan
unanswered, so the other segments' data files are in the bucket when SIGKILL arrives and
the manifest is not.
"""

import signal
import subprocess
import time
from typing import TYPE_CHECKING

import pytest

from devtools.fault_proxy import FaultPolicy, ProxiedRequest, fault_proxy
from devtools.local_aws import LocalAws
from devtools.tables import scan_all
from tests.faults.conftest import LEDGER_BOOKS
from tests.integration.cli_runner import cli, cli_command, cli_env

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_s3 import S3Client

pytestmark = pytest.mark.integration

SEGMENTS = 4


def is_last_segments_scan(request: ProxiedRequest) -> bool:
    body = request.json()
    return request.operation == "Scan" and isinstance(body, dict) and body.get("Segment") == SEGMENTS - 1


def keys_in(s3: "S3Client", bucket: str) -> list[str]:
    return [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]


def wait_for_data_files(s3: "S3Client", bucket: str, count: int, process: subprocess.Popen[str]) -> list[str]:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        data = [k for k in keys_in(s3, bucket) if "/data/" in k]
        if len(data) >= count:
            return data
        if process.poll() is not None:
            pytest.fail(f"the backup ended by itself ({process.returncode}): {process.communicate()[1]}")
        time.sleep(0.1)
    pytest.fail(f"fewer than {count} data files after 60 s: {keys_in(s3, bucket)}")


def test_killed_backup_is_never_listed_or_restored_and_the_next_run_starts_clean(
    local_services: LocalAws, dynamodb: "DynamoDBClient", s3: "S3Client", bucket: str, ledger_table: str
) -> None:
    hang_last_segment = FaultPolicy(stall=is_last_segments_scan)
    with fault_proxy(local_services.dynamodb_endpoint, hang_last_segment) as proxy:
        process = subprocess.Popen(  # noqa: S603 - our own CLI
            cli_command("backup", ledger_table, "--to", f"s3://{bucket}", "--segments", str(SEGMENTS)),
            env=cli_env(AWS_ENDPOINT_URL_DYNAMODB=proxy.url),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            written = wait_for_data_files(s3, bucket, SEGMENTS - 1, process)
            process.send_signal(signal.SIGKILL)
            process.communicate(timeout=30)
        finally:
            if process.poll() is None:
                process.kill()
                process.communicate()
    assert process.returncode == -signal.SIGKILL
    assert proxy.requests["Scan"] >= SEGMENTS  # every segment started...
    assert proxy.stalled == 1  # ...and the last one never got its first page

    left_behind = keys_in(s3, bucket)
    assert sorted(left_behind) == sorted(written)  # data files only: no manifest
    folder = written[0].split("data/")[0]
    assert cli("list", ledger_table, "--in", f"s3://{bucket}") == []
    refusal = cli("restore", f"s3://{bucket}/{folder}", "--table", f"{ledger_table}-restored", expect=2)
    assert "has no manifest.json: it never finished" in refusal
    assert f"{ledger_table}-restored" not in dynamodb.list_tables()["TableNames"]

    backup = cli("backup", ledger_table, "--to", f"s3://{bucket}", "--segments", str(SEGMENTS))
    assert backup["item_count"] == LEDGER_BOOKS
    assert not backup["s3_key"].startswith(folder)
    assert [row["backup"] for row in cli("list", ledger_table, "--in", f"s3://{bucket}")] == [
        backup["location"]
    ]
    restored = cli("restore", backup["location"], "--table", f"{ledger_table}-restored")
    assert restored["items_restored"] == LEDGER_BOOKS
    assert scan_all(dynamodb, f"{ledger_table}-restored", "book_id") == scan_all(
        dynamodb, ledger_table, "book_id"
    )
