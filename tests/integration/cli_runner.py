"""Run `python -m ledger_backup` as a user would: a real subprocess, JSON on stdout, one-line errors."""

import json
import os
import subprocess
import sys
from typing import Any

from devtools.local_aws import REPO_ROOT


def cli_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "ledger_backup", *args]


def cli_env(**overrides: str) -> dict[str, str]:
    """This process's environment (the local endpoints included) with the core on the path."""
    pythonpath = os.pathsep.join([str(REPO_ROOT / "lambdas"), str(REPO_ROOT)])
    return {**os.environ, "PYTHONPATH": pythonpath, **overrides}


def cli(*args: str, expect: int = 0) -> Any:
    """The command's JSON output, or its stderr when `expect` is a failing exit status."""
    done = subprocess.run(  # noqa: S603 - our own CLI with the test's arguments
        cli_command(*args), capture_output=True, text=True, env=cli_env(), check=False
    )
    assert done.returncode == expect, done.stderr
    return json.loads(done.stdout) if expect == 0 else done.stderr
