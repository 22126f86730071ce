"""Run `python -m ledger_backup` as a user would: a real subprocess, JSON on stdout, one-line errors."""

import errno
import fcntl
import json
import os
import re
import struct
import subprocess
import sys
import termios
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
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


@dataclass(frozen=True)
class TerminalRun:
    returncode: int
    stdout: str
    stderr: str  # as the terminal got it, the bar's redraws and colours included

    @property
    def stdout_text(self) -> str:
        return plain(self.stdout)

    @property
    def stderr_text(self) -> str:
        return plain(self.stderr)


def plain(terminal_output: str) -> str:
    """Terminal output without escape sequences, each redraw on a line of its own: what a person reads."""
    return _ESCAPES.sub("", terminal_output).replace("\r", "\n")


_ESCAPES = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
_WINDOW = struct.pack("HHHH", 30, 140, 0, 0)  # rows, columns: a terminal wide enough for a whole bar


def cli_on_terminal(*args: str, stdout_tty: bool = False, stderr_tty: bool = True) -> TerminalRun:
    """Run the CLI with stdout and/or stderr on a pseudo-terminal (the others on pipes), all read whole."""
    child: dict[str, int] = {}
    ours: dict[str, int] = {}
    for name, tty in (("stdout", stdout_tty), ("stderr", stderr_tty)):
        ours[name], child[name] = os.openpty() if tty else os.pipe()
        if tty:
            fcntl.ioctl(child[name], termios.TIOCSWINSZ, _WINDOW)
    process = subprocess.Popen(  # noqa: S603 - our own CLI with the test's arguments
        cli_command(*args),
        stdin=subprocess.DEVNULL,
        stdout=child["stdout"],
        stderr=child["stderr"],
        env=cli_env(TERM="xterm-256color"),
    )
    for fd in child.values():
        os.close(fd)
    with ThreadPoolExecutor(max_workers=2) as pool:
        stdout, stderr = pool.map(_read_to_end, (ours["stdout"], ours["stderr"]))
    return TerminalRun(process.wait(timeout=120), stdout, stderr)


def _read_to_end(fd: int) -> str:
    """All a pipe or a pseudo-terminal's master side gets until the child closes it (EIO for a pty)."""
    chunks = []
    try:
        while chunk := os.read(fd, 65536):
            chunks.append(chunk)
    except OSError as error:
        if error.errno != errno.EIO:
            raise
    finally:
        os.close(fd)
    return b"".join(chunks).decode("utf-8").replace("\r\n", "\n")
