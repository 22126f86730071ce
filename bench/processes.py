"""Run one command in a fresh process and account for it: wall time, CPU time and peak RSS.

`os.wait4` returns the CPU time of exactly that child (RUSAGE_CHILDREN would mix in every
earlier child); peak RSS is the child's VmHWM, polled. Each measurement is its own process,
so the numbers compare.
"""

import os
import subprocess
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

from devtools.local_aws import REPO_ROOT

_POLL_SECONDS = 0.02


@dataclass(frozen=True)
class ProcessRun:
    stdout: str
    seconds: float
    cpu_seconds: float  # user + system time of the child itself
    peak_rss_mb: float
    finished: bool = True  # False: stopped at the time limit


class CommandFailed(RuntimeError):
    """A measured command exited non-zero; the message carries the end of its stderr."""


def python_env() -> dict[str, str]:
    """This environment (local endpoints included) with the product and repo importable."""
    path = os.pathsep.join([str(REPO_ROOT / "lambdas"), str(REPO_ROOT)])
    return {**os.environ, "PYTHONPATH": path}


def _peak_rss_mb(pid: int, previous: float) -> float:
    """The child's own high-water RSS (VmHWM), which only grows: read it while the child runs.

    wait4's ru_maxrss is no use here: Linux carries the forking parent's RSS into the child's
    figure at exec, so it would report the benchmark's own size.
    """
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return previous
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return max(previous, int(line.split()[1]) / 1024)
    return previous  # a zombie has no memory left to report


def _wait(process: "subprocess.Popen[bytes]", time_limit: float | None) -> tuple[int, Any, float, bool]:
    """wait4 the child, sampling its peak RSS and killing it at the time limit."""
    deadline = None if time_limit is None else time.monotonic() + time_limit
    peak = 0.0
    while True:
        peak = _peak_rss_mb(process.pid, peak)
        pid, status, usage = os.wait4(process.pid, os.WNOHANG)
        if pid:
            return status, usage, peak, True
        if deadline is not None and time.monotonic() >= deadline:
            process.kill()
            _, status, usage = os.wait4(process.pid, 0)
            return status, usage, peak, False
        time.sleep(_POLL_SECONDS)


def run_measured(
    command: Sequence[str], stdout_path: Path | None = None, time_limit: float | None = None
) -> ProcessRun:
    """Run `command` to completion (or the time limit); stdout goes to `stdout_path` or is returned."""
    with tempfile.TemporaryDirectory(prefix="bench-run-") as scratch:
        out_path = stdout_path or Path(scratch) / "stdout"
        err_path = Path(scratch) / "stderr"
        with out_path.open("wb") as out, err_path.open("wb") as err:
            started = time.perf_counter()
            process = subprocess.Popen(command, stdout=out, stderr=err, env=python_env())
            status, usage, peak_rss_mb, finished = _wait(process, time_limit)
            seconds = time.perf_counter() - started
            process.returncode = os.waitstatus_to_exitcode(status)
        if finished and process.returncode != 0:
            tail = err_path.read_text(errors="replace")[-3000:]
            raise CommandFailed(f"{' '.join(command)} exited with {process.returncode}:\n{tail}")
        text = "" if stdout_path else out_path.read_text()
    return ProcessRun(
        stdout=text,
        seconds=seconds,
        cpu_seconds=usage.ru_utime + usage.ru_stime,
        peak_rss_mb=peak_rss_mb,
        finished=finished,
    )


class ServerCpu:
    """CPU seconds used by a server this process started (DynamoDB Local, the S3 server)."""

    def __init__(self, marker: str) -> None:
        children = psutil.Process().children(recursive=True)
        found = [p for p in children if any(marker in part for part in p.cmdline())]
        if not found:
            raise RuntimeError(f"no child process runs {marker!r}: were the local services started here?")
        self._process = found[0]

    def seconds(self) -> float:
        times = self._process.cpu_times()
        return float(times.user + times.system)
