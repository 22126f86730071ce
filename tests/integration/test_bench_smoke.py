"""`python -m bench --quick`: every step of the benchmark runs and reports numbers that make sense.

Timings on a shared machine are not asserted (that is what `make bench` is for); what is
checked is that each measurement moved every item, and that the report and its targets exist.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from devtools.local_aws import REPO_ROOT

pytestmark = pytest.mark.integration

QUICK_SIZES = (500, 1_000)


def test_quick_run_reports_every_measurement(tmp_path: Path) -> None:
    numbers = tmp_path / "bench.json"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO_ROOT / "lambdas"), str(REPO_ROOT)])}
    done = subprocess.run(  # noqa: S603 - the benchmark itself, with fixed arguments
        [sys.executable, "-m", "bench", "--quick", "--json", str(numbers)],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO_ROOT,
        check=False,
        timeout=240,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = done.stdout
    for heading in ("measurement", "Targets", "Lambda cost model", "Where the client CPU goes"):
        assert heading in report

    document = json.loads(numbers.read_text())
    measurements = document["measurements"]
    roles = {(m["role"], m["size"]) for m in measurements}
    for size in QUICK_SIZES:
        assert {("raw read", size), ("raw write", size), ("our backup", size), ("our restore", size)} <= roles
        assert ("item checks", size) in roles
        incident = {"our plan", "our verify", "raw plan read", "our upsert", "our replace", "raw delete"}
        assert {(role, size) for role in incident} <= roles
    assert {("runbook backup", 500), ("runbook restore", 500)} <= roles
    assert ("our restore, default switch interval", 500) in roles  # the smallest size only
    assert ("our restore, default switch interval", 1000) not in roles
    for m in measurements:
        # the raw deletes remove the extra keys a replace deletes: one in a hundred
        assert m["items"] == (m["size"] // 100 if m["role"] == "raw delete" else m["size"]), m["name"]
        assert m["items_per_second"] > 0, m["name"]
        assert m["client_cpu_ms_per_item"] > 0, m["name"]
        if m["role"] in ("our backup", "our restore", "our plan", "our verify", "our upsert", "our replace"):
            assert 20 < m["peak_rss_mb"] < 2_000, m["name"]  # a real process's RSS, not the benchmark's
    restores = [m for m in measurements if m["role"] in ("our restore", "our upsert", "our replace")]
    assert all(any("25/25 sampled items identical" in note for note in m["notes"]) for m in restores)

    targets = document["targets"]
    # backup and restore vs the best raw run at 2 sizes and vs the stock client at one, the runbook
    # (3, or 2 when its unfinished scan gives no conclusive ratio), memory (3: the plan's too), the item
    # checks' share (2), the plan against its two halves (2), the replace against restore + deletes (2)
    assert len(targets) in (17, 18)
    assert sum("item checks' share" in t["what"] for t in targets) == len(QUICK_SIZES)
    assert sum(t["what"].startswith("our plan vs our verify then") for t in targets) == len(QUICK_SIZES)
    assert sum(t["what"].startswith("our replace vs our upsert") for t in targets) == len(QUICK_SIZES)
    assert sum(t["what"].startswith("our plan peak RSS") for t in targets) == 1
    assert all(t["ratio"] > 0 for t in targets)
    assert document["lambda_memory_mb"]
