"""Every mistake a user can make with the CLI is one `error: ...` line on stderr, exit status 2, no traceback.

The mistakes run against real DynamoDB Local and the S3 server: in-process through main() for
speed, and as real subprocesses where the process itself matters (AWS settings read from the
environment, Ctrl-C, a closed stdout, what the interpreter prints at exit).
"""

import json
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import boto3
import pytest

from devtools.local_aws import LocalAws, free_port
from devtools.tables import create_ledger_table
from ledger_backup.cli import OneLineFormatter, failure_message, main
from ledger_backup.errors import InvalidRequest
from tests.integration.cli_runner import cli_command, cli_env

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

pytestmark = pytest.mark.integration


@dataclass(frozen=True)
class World:
    """What the mistakes are made against: a table, a bucket, a good and a corrupt backup, a file."""

    table: str
    bucket: str
    denied_bucket: str  # a bucket whose policy refuses everything: S3 answers 403
    backup: Path
    corrupt: Path
    file: Path
    folder: Path
    missing: Path

    def fill(self, args: tuple[str, ...]) -> list[str]:
        values = {name: str(value) for name, value in vars(self).items()}
        return [arg.format(**values) for arg in args]


@pytest.fixture(scope="module")
def world(local_services: LocalAws, tmp_path_factory: pytest.TempPathFactory) -> World:
    root = tmp_path_factory.mktemp("cli-errors")
    name = f"clierr{os.getpid()}"
    dynamodb = boto3.client("dynamodb")
    create_ledger_table(dynamodb, name, 20)
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket=f"{name}-ok")
    s3.create_bucket(Bucket=f"{name}-denied")
    deny_all = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": [f"arn:aws:s3:::{name}-denied", f"arn:aws:s3:::{name}-denied/*"],
            }
        ],
    }
    s3.put_bucket_policy(Bucket=f"{name}-denied", Policy=json.dumps(deny_all))
    assert main(["backup", name, "--to", str(root / "backups")]) == 0
    (backup,) = (root / "backups" / name).iterdir()
    corrupt = root / "corrupt"
    corrupt.mkdir()
    (corrupt / "data").mkdir()
    (corrupt / "manifest.json").write_bytes((backup / "manifest.json").read_bytes())
    for part in (backup / "data").iterdir():
        damaged = bytearray(part.read_bytes())
        damaged[20:22] = b"xx"
        (corrupt / "data" / part.name).write_bytes(bytes(damaged))
    (root / "a-file").write_text("not a backup\n")
    (root / "empty").mkdir()
    return World(
        table=name,
        bucket=f"{name}-ok",
        denied_bucket=f"{name}-denied",
        backup=backup,
        corrupt=corrupt,
        file=root / "a-file",
        folder=root / "empty",
        missing=root / "not-there",
    )


LONG_NAME = "a" * 256

# (arguments, what the one line must say). {table}, {bucket}, {backup}, ... come from World.
MISTAKES: dict[str, tuple[tuple[str, ...], str]] = {
    # usage
    "no command": ((), "required: command"),
    "unknown command": (("bogus",), "invalid choice: 'bogus'"),
    "unknown option": (("list", "{table}", "--in", "{folder}", "--frobnicate"), "unrecognized arguments"),
    "missing --to": (("backup", "{table}"), "required: --to"),
    "bad --format": (("backup", "{table}", "--to", "{folder}", "--format", "xml"), "invalid choice: 'xml'"),
    # locations
    "s3:// alone": (("backup", "{table}", "--to", "s3://"), "'s3://' names no bucket"),
    "s3:///key": (("verify", "s3:///backups/x/manifest.json"), "names no bucket"),
    "invalid bucket name": (("backup", "{table}", "--to", "s3://Bad_Bucket/x"), "is not an S3 bucket name"),
    "missing bucket (backup)": (("backup", "{table}", "--to", "s3://{table}-nope"), "NoSuchBucket"),
    "missing bucket (scan-json)": (
        ("backup", "{table}", "--format", "scan-json", "--to", "s3://{table}-nope/f.json"),
        "NoSuchBucket",
    ),
    "missing bucket (list)": (("list", "{table}", "--in", "s3://{table}-nope"), "bucket '{table}-nope'"),
    "missing bucket (verify)": (("verify", "s3://{table}-nope/backups/x/"), "NoSuchBucket"),
    "bucket, not a backup": (("verify", "s3://{bucket}"), "names a bucket, not a backup"),
    "no backup under key": (("verify", "s3://{bucket}/backups/nothing/"), "no backup at"),
    "empty location": (("backup", "{table}", "--to", ""), "an empty location"),
    "backup --to a file": (("backup", "{table}", "--to", "{file}"), "is a file, not a folder"),
    "scan-json --to a folder": (
        ("backup", "{table}", "--format", "scan-json", "--to", "{folder}"),
        "is a folder: give a file name",
    ),
    "scan-json under a file": (
        ("backup", "{table}", "--format", "scan-json", "--to", "{file}/x.json"),
        "is a file, not a folder",
    ),
    "scan-json --to bucket/": (
        ("backup", "{table}", "--format", "scan-json", "--to", "s3://{bucket}/"),
        "names no object",
    ),
    "restore missing path": (("restore", "{missing}", "--table", "{table}-r"), "no backup at"),
    "verify a file that is not a backup": (("verify", "{file}"), "is neither JSON nor gzipped JSON"),
    "verify an empty folder": (("verify", "{folder}"), "no backup at"),
    "list --in missing folder": (("list", "{table}", "--in", "{missing}"), "no folder"),
    "list --in a file": (("list", "{table}", "--in", "{file}"), "is a file, not a folder"),
    "--latest-of in missing folder": (
        ("restore", "{missing}", "--latest-of", "{table}", "--table", "{table}-r"),
        "no folder",
    ),
    "--latest-of with no backups": (
        ("restore", "s3://{bucket}", "--latest-of", "{table}", "--table", "{table}-r"),
        "no complete backup",
    ),
    "--journal s3://": (
        ("restore", "{backup}", "--table", "{table}-r", "--journal", "s3://"),
        "names no bucket",
    ),
    "--journal a file": (
        ("restore", "{backup}", "--table", "{table}-r", "--journal", "{file}"),
        "is a file, not a folder",
    ),
    "restore-status in missing folder": (("restore-status", "abc", "--in", "{missing}"), "no folder"),
    "resume --in s3://": (("resume", "abc", "--in", "s3://"), "names no bucket"),
    "resume unknown id": (("resume", "abc", "--in", "s3://{bucket}"), "has no checkpoint"),
    "resume bad id": (("resume", "../x", "--in", "{folder}"), "is not a restore id"),
    # table names
    "table name too short": (("backup", "ab", "--to", "{folder}"), "'ab' has 2 characters"),
    "table name too long": (("backup", LONG_NAME, "--to", "{folder}"), "has 256 characters"),
    "table name bad characters": (("list", "bad name!", "--in", "{folder}"), "contains ' ' '!'"),
    "--table bad": (("restore", "{backup}", "--table", "x/y"), "contains '/'"),
    "--against bad": (("verify", "{backup}", "--against", "no"), "'no' has 2 characters"),
    "--latest-of bad": (
        ("restore", "s3://{bucket}", "--latest-of", "a b", "--table", "{table}-r"),
        "contains",
    ),
    "missing table (backup)": (("backup", "{table}-nope", "--to", "{folder}"), "does not exist"),
    "missing table (--against)": (("verify", "{backup}", "--against", "{table}-nope"), "does not exist"),
    "missing table (--no-create-table)": (
        ("restore", "{backup}", "--table", "{table}-nope", "--no-create-table"),
        "does not exist",
    ),
    "target holds items": (("restore", "{backup}", "--table", "{table}"), "already holds items"),
    # numbers
    "--segments 0": (
        ("backup", "{table}", "--to", "{folder}", "--segments", "0"),
        "from 1 to 1,000, not '0'",
    ),
    "--segments huge": (
        ("backup", "{table}", "--to", "{folder}", "--segments", "99999999999"),
        "from 1 to 1,000",
    ),
    "--segments text": (("backup", "{table}", "--to", "{folder}", "--segments", "four"), "not 'four'"),
    "--writers 0": (("restore", "{backup}", "--table", "{table}-r", "--writers", "0"), "from 1 to 100"),
    "--writers huge": (("resume", "abc", "--in", "{folder}", "--writers", "100000"), "from 1 to 100"),
    "--max-items-per-second 0": (
        ("backup", "{table}", "--to", "{folder}", "--max-items-per-second", "0"),
        "from 1 to 1,000,000",
    ),
    "--max-items-per-second negative": (
        ("restore", "{backup}", "--table", "{table}-r", "--max-items-per-second", "-5"),
        "not '-5'",
    ),
    "--max-items-per-second fraction": (
        ("backup", "{table}", "--to", "{folder}", "--max-items-per-second", "1.5"),
        "not '1.5'",
    ),
    "--checkpoint-every negative": (
        ("restore", "{backup}", "--table", "{table}-r", "--checkpoint-every", "-1"),
        "seconds from 0 to 86,400",
    ),
    "--checkpoint-every nan": (
        ("resume", "abc", "--in", "{folder}", "--checkpoint-every", "nan"),
        "not 'nan'",
    ),
    # keys
    "--hash-key without type": (
        ("restore", "{backup}", "--table", "{table}-r", "--hash-key", "book_id"),
        "NAME:TYPE",
    ),
    "--hash-key without name": (
        ("restore", "{backup}", "--table", "{table}-r", "--hash-key", ":S"),
        "not ':S'",
    ),
    "--hash-key bad type": (("verify", "{backup}", "--hash-key", "book_id:X"), "not 'book_id:X'"),
    "--range-key without --hash-key (restore)": (
        ("restore", "{backup}", "--table", "{table}-r", "--range-key", "sk:N"),
        "--range-key needs --hash-key",
    ),
    "--range-key without --hash-key (verify)": (
        ("verify", "{backup}", "--range-key", "sk:N"),
        "--range-key needs --hash-key",
    ),
    # data and AWS
    "corrupt backup (restore)": (
        ("restore", "{corrupt}", "--table", "{table}-r"),
        "the gzip stream is damaged",
    ),
    "corrupt backup (verify)": (("verify", "{corrupt}"), "failed its check"),
    "access denied": (("backup", "{table}", "--to", "s3://{denied_bucket}"), "access denied"),
}


def _assert_one_error_line(status: object, stdout: str, stderr: str, expected: str) -> str:
    assert "Traceback" not in stdout + stderr, stderr
    assert status == 2, stderr
    lines = stderr.splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("error: "), stderr
    assert expected in lines[0]
    if stdout:  # only verify prints a document on failure: the report, as JSON
        json.loads(stdout)
    return lines[0]


@pytest.mark.parametrize("mistake", list(MISTAKES))
def test_mistake_is_one_error_line(world: World, capsys: pytest.CaptureFixture[str], mistake: str) -> None:
    args, expected = MISTAKES[mistake]
    try:
        status: object = main(world.fill(args))
    except SystemExit as exc:  # argparse's usage errors exit through our one-line error()
        status = exc.code
    captured = capsys.readouterr()
    _assert_one_error_line(status, captured.out, captured.err, expected.format(**vars(world)))


def test_mistakes_print_no_json_except_verify(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    """stdout stays JSON-only: a failure prints nothing there, a failed verify its report."""
    assert main(world.fill(("verify", "{corrupt}"))) == 2
    assert json.loads(capsys.readouterr().out)["status"] == "corrupt"
    assert main(world.fill(("restore", "{corrupt}", "--table", "{table}-r"))) == 2
    assert capsys.readouterr().out == ""


def _run(args: list[str], env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - our own CLI with the test's arguments
        cli_command(*args), capture_output=True, text=True, env=env or cli_env(), check=False
    )


@pytest.mark.parametrize(
    "mistake",
    ["no command", "s3:// alone", "missing bucket (backup)", "--segments 0", "corrupt backup (restore)"],
)
def test_mistake_in_a_real_process(world: World, mistake: str) -> None:
    """The process as a shell sees it: nothing more at exit (no traceback, no ignored-exception note)."""
    args, expected = MISTAKES[mistake]
    done = _run(world.fill(args))
    _assert_one_error_line(done.returncode, done.stdout, done.stderr, expected)


def _without_aws_settings(*prefixes: str) -> dict[str, str]:
    return {name: value for name, value in cli_env().items() if not name.startswith(prefixes)}


def test_unreachable_endpoint(world: World) -> None:
    closed = f"http://127.0.0.1:{free_port()}"
    done = _run(
        world.fill(("backup", "{table}", "--to", "{folder}")), cli_env(AWS_ENDPOINT_URL_DYNAMODB=closed)
    )
    line = _assert_one_error_line(
        done.returncode, done.stdout, done.stderr, "Could not connect to the endpoint URL"
    )
    assert closed in line
    assert "AWS_ENDPOINT_URL" in line


def test_no_credentials(world: World, tmp_path: Path) -> None:
    env = _without_aws_settings("AWS_ACCESS_KEY", "AWS_SECRET", "AWS_SESSION", "AWS_PROFILE", "AWS_CONTAINER")
    nowhere = str(tmp_path / "none")
    env |= {
        "AWS_SHARED_CREDENTIALS_FILE": nowhere,
        "AWS_CONFIG_FILE": nowhere,
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    done = _run(world.fill(("backup", "{table}", "--to", "{folder}")), env)
    line = _assert_one_error_line(done.returncode, done.stdout, done.stderr, "Unable to locate credentials")
    assert "AWS_PROFILE" in line


def test_no_region(world: World, tmp_path: Path) -> None:
    env = _without_aws_settings("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE")
    env |= {"AWS_CONFIG_FILE": str(tmp_path / "none")}
    done = _run(world.fill(("backup", "{table}", "--to", "{folder}")), env)  # S3 has a global endpoint
    _assert_one_error_line(done.returncode, done.stdout, done.stderr, "no AWS region is set")


def test_closed_stdout(world: World) -> None:
    """`| head -c1` that has already gone: the write fails, and says so once."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        done = subprocess.run(  # noqa: S603 - our own CLI
            cli_command(*world.fill(("list", "{table}", "--in", "{backup}/.."))),
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            env=cli_env(),
            check=False,
        )
    finally:
        os.close(write_end)
    _assert_one_error_line(done.returncode, "", done.stderr, "stdout was closed before the JSON result")


@pytest.fixture
def slow_restore(world: World) -> Iterator[subprocess.Popen[str]]:
    """A restore at one item per second: its first batch alone takes 20 s, so it runs when interrupted."""
    target = f"{world.table}-interrupted"
    process = subprocess.Popen(  # noqa: S603 - our own CLI
        cli_command(
            "restore", str(world.backup), "--table", target, "--writers", "1", "--max-items-per-second", "1"
        ),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=cli_env(),
    )
    dynamodb: DynamoDBClient = boto3.client("dynamodb")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and process.poll() is None:  # main() runs: it made the target
        if target in dynamodb.list_tables()["TableNames"]:
            break
        time.sleep(0.05)
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
        process.communicate()


def test_keyboard_interrupt(slow_restore: subprocess.Popen[str]) -> None:
    assert slow_restore.poll() is None
    slow_restore.send_signal(signal.SIGINT)
    stdout, stderr = slow_restore.communicate(timeout=30)
    line = _assert_one_error_line(
        slow_restore.returncode, stdout, stderr, "interrupted: the restore did not finish"
    )
    assert "resume" in line


def test_debug_shows_the_exception(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    """--debug, before or after the command, lets the exception out for its traceback."""
    with pytest.raises(InvalidRequest, match="names no bucket"):
        main(["--debug", "verify", "s3://"])
    with pytest.raises(InvalidRequest, match="names no bucket"):
        main(["verify", "s3://", "--debug"])
    assert main(["verify", "s3://"]) == 2
    assert capsys.readouterr().err.startswith("error: ")


def test_unexpected_errors_are_one_line_too() -> None:
    message = failure_message(RuntimeError("the\nworld ended"))
    assert message.startswith("unexpected RuntimeError: the")
    assert message.endswith("(run with --debug for the traceback)")
    assert (
        failure_message(KeyError("book_id"))
        == "unexpected KeyError: 'book_id' (run with --debug for the traceback)"
    )


def test_a_warning_with_an_exception_is_one_line() -> None:
    """A failed clean-up logs its exception: the CLI shows its message, not its traceback."""
    try:
        raise PermissionError(13, "Permission denied", "/backups/x")
    except PermissionError:
        record = logging.LogRecord(
            "ledger_backup", logging.WARNING, __file__, 1, "could not delete %s", ("x",), None
        )
        record.exc_info = sys.exc_info()
    line = OneLineFormatter().format(record)
    assert line == (
        "warning: could not delete x: Permission denied: '/backups/x'; "
        "check the permissions or pick another path"
    )
