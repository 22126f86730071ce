"""`copy` through the CLI against the S3 server: to a local folder and to another bucket, verified there,
a corrupted source refused with no manifest written, and the same backup again reported identical."""

import gzip
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from ledger_backup.cli import main

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

pytestmark = pytest.mark.integration


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, Any, str]:
    """Exit status, the JSON printed (None if none), and stderr."""
    capsys.readouterr()
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, json.loads(out) if out.strip() else None, err


@pytest.fixture
def s3_backup(capsys: pytest.CaptureFixture[str], ledger_table: str, bucket: str) -> str:
    status, answer, _ = run(capsys, "-q", "backup", ledger_table, "--to", f"s3://{bucket}")
    assert status == 0
    return f"s3://{bucket}/{answer['s3_key']}"


def keys(s3: "S3Client", bucket: str, prefix: str = "") -> list[str]:
    return [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])]


def test_copy_from_s3_to_a_folder_and_on_to_another_bucket(
    capsys: pytest.CaptureFixture[str],
    s3: "S3Client",
    tmp_path: Path,
    ledger_table: str,
    bucket: str,
    s3_backup: str,
) -> None:
    offsite = tmp_path / "offsite"
    status, copied, _ = run(
        capsys, "copy", "--latest-of", ledger_table, f"s3://{bucket}", "--to", str(offsite), "--json"
    )
    assert status == 0
    assert (copied["status"], copied["source"], copied["items"], copied["verified"]) == (
        "copied",
        s3_backup,
        399,
        True,
    )
    folder = s3_backup.removeprefix(f"s3://{bucket}/backups/").removesuffix("manifest.json")
    assert copied["destination"] == str(offsite / folder / "manifest.json")
    source_keys = keys(s3, bucket, "backups/")
    assert copied["files"] == len(source_keys) - 1
    assert sorted(str(p.relative_to(offsite)) for p in offsite.rglob("*") if p.is_file()) == sorted(
        k.removeprefix("backups/") for k in source_keys
    )
    status, verified, _ = run(capsys, "verify", "--latest-of", ledger_table, str(offsite))
    assert (status, verified["status"], verified["item_count"]) == (0, "verified", 399)

    other = f"{bucket}-vault"
    s3.create_bucket(Bucket=other)
    status, onward, _ = run(capsys, "copy", str(offsite / folder), "--to", f"s3://{other}/vault", "--json")
    assert status == 0
    assert onward["destination"] == f"s3://{other}/vault/{folder}manifest.json"
    assert onward["bytes"] == copied["bytes"]
    assert sorted(keys(s3, other)) == sorted(f"vault/{k.removeprefix('backups/')}" for k in source_keys)
    status, listed, _ = run(capsys, "list", ledger_table, "--in", f"s3://{other}/vault")
    assert [row["backup"] for row in listed] == [onward["destination"]]

    status, again, _ = run(capsys, "copy", str(offsite / folder), "--to", f"s3://{other}/vault", "--json")
    assert (status, again["status"], again["verified"]) == (0, "identical", True)


def test_copy_prints_a_summary_on_a_terminal(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    ledger_table: str,
    bucket: str,
    s3_backup: str,
) -> None:
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)
    capsys.readouterr()
    assert main(["-q", "copy", s3_backup, "--to", str(tmp_path / "offsite")]) == 0
    out = capsys.readouterr().out
    assert out.startswith("copied ")
    assert ", 399 items to " in out
    assert out.rstrip().endswith("every file's sha256 and size verified at the destination")


def test_a_corrupted_source_is_refused_and_no_manifest_is_written(
    capsys: pytest.CaptureFixture[str],
    s3: "S3Client",
    tmp_path: Path,
    ledger_table: str,
    bucket: str,
    s3_backup: str,
) -> None:
    folder = s3_backup.removeprefix(f"s3://{bucket}/").removesuffix("manifest.json")
    last = sorted(keys(s3, bucket, f"{folder}data/"))[-1]
    lines = gzip.decompress(s3.get_object(Bucket=bucket, Key=last)["Body"].read())
    s3.put_object(Bucket=bucket, Key=last, Body=gzip.compress(lines.replace(b'"S":"v3"', b'"S":"v4"', 1)))
    offsite = tmp_path / "offsite"
    status, printed, err = run(capsys, "copy", s3_backup, "--to", str(offsite))
    assert (status, printed) == (2, None)
    assert err.count("\n") == 1
    assert err.startswith(f"error: s3://{bucket}/{last}: checksum mismatch: the manifest says "), err
    assert not [p for p in offsite.rglob("manifest.json")], "a refused copy never looks complete"
    other = f"{bucket}-vault"
    s3.create_bucket(Bucket=other)
    status, _, err = run(
        capsys, "copy", "--latest-of", ledger_table, f"s3://{bucket}", "--to", f"s3://{other}"
    )
    assert status == 2
    assert "checksum mismatch" in err
    assert not [k for k in keys(s3, other) if k.endswith("manifest.json")]
