"""Where our processes spend client CPU: py-spy samples of a backup and a restore, by component.

Only the thread holding the GIL is sampled (`--gil`): that is the interpreter's CPU, the
resource a Python client runs out of first. Time in C code that keeps the GIL (json) lands
on the Python function that called it; C code that releases it (zlib, sha256, socket reads)
is under-counted. Threads waiting for the GIL would otherwise show up in whatever Python
function they were preempted in, several times over.
"""

import shutil
import sys
import tempfile
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from bench.processes import run_measured

SAMPLE_RATE = 100  # per second; --nonblocking keeps py-spy from pausing the process at each sample

# The first component whose pattern occurs in the innermost frame's file wins.
COMPONENTS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("botocore: parse responses", ("botocore/parsers.py",)),
    ("botocore: validate parameters", ("botocore/validate.py",)),
    ("botocore: serialize requests", ("botocore/serialize.py",)),
    ("botocore: sign requests", ("botocore/auth.py", "botocore/signers.py", "hmac.py")),
    (
        "HTTP (urllib3, http.client, sockets)",
        (
            "urllib3/",
            "http/client.py",
            "socket.py",
            "ssl.py",
            "botocore/awsrequest.py",
            "botocore/httpsession.py",
        ),
    ),
    ("botocore: events, retries, endpoints", ("botocore/", "boto3/")),
    ("json encode/decode (C, called from codec and the hooks)", ("json/",)),
    ("codec: B/BS hook and item checks", ("ledger_backup/codec.py",)),
    (
        "gzip, sha256 and lines of data files",
        ("gzip.py", "_compression.py", "ledger_backup/storage/streams.py", "ledger_backup/sources/lines.py"),
    ),
    ("ledger_backup: everything else", ("ledger_backup/",)),
    ("threads, futures, locks", ("threading.py", "concurrent/futures/", "queue.py")),
)
STARTUP = "interpreter start-up and imports"
OTHER = "other"


@dataclass(frozen=True)
class Profile:
    label: str
    items: int
    samples: Counter[str]  # component -> samples
    leaves: Counter[str]  # innermost function -> samples

    def lines(self, top: int = 8) -> list[str]:
        total = sum(self.samples.values())
        if total == 0:
            return [f"  {self.label}: no samples"]
        busy = total - self.samples[STARTUP]
        ms_per_item = 1000 * busy / SAMPLE_RATE / self.items
        lines = [
            f"  {self.label}: {total} samples, {ms_per_item:.2f} ms with the GIL per item after start-up"
        ]
        for component, count in self.samples.most_common(top):
            lines.append(f"    {100 * count / total:5.1f}%  {component}")
        hottest = ", ".join(f"{name} {100 * n / total:.0f}%" for name, n in self.leaves.most_common(5))
        lines.append(f"    hottest functions: {hottest}")
        return lines


def component_of(stack: Sequence[str]) -> str:
    """The component a sample's stack (outermost first) belongs to."""
    if any("importlib" in frame for frame in stack):
        return STARTUP
    leaf = stack[-1]
    for component, patterns in COMPONENTS:
        if any(pattern in leaf for pattern in patterns):
            return component
    return OTHER


def parse_raw(text: str, label: str, items: int) -> Profile:
    """py-spy's `--format raw` output: one `frame;frame;... count` line per distinct stack."""
    samples: Counter[str] = Counter()
    leaves: Counter[str] = Counter()
    for line in text.splitlines():
        stack_text, _, count_text = line.rpartition(" ")
        if not stack_text or not count_text.isdigit():
            continue
        stack = stack_text.split(";")
        count = int(count_text)
        samples[component_of(stack)] += count
        leaves[stack[-1].split(" (")[0]] += count
    return Profile(label, items, samples, leaves)


def py_spy() -> str | None:
    beside_python = Path(sys.executable).with_name("py-spy")
    return str(beside_python) if beside_python.is_file() else shutil.which("py-spy")


def profile_command(command: Sequence[str], label: str, items: int) -> Profile:
    """Run `command` under py-spy and attribute its samples."""
    spy = py_spy()
    if spy is None:
        raise RuntimeError("py-spy is missing: run `make venv` (it is in requirements.txt)")
    with tempfile.TemporaryDirectory(prefix="bench-profile-") as scratch:
        output = Path(scratch) / "samples.txt"
        run_measured(
            [
                spy,
                "record",
                "--gil",
                "--rate",
                str(SAMPLE_RATE),
                "--nonblocking",
                "--format",
                "raw",
                "--output",
                str(output),
                "--",
                *command,
            ]
        )
        return parse_raw(output.read_text(), label, items)
