"""The runbook's way, as the baseline: `aws dynamodb scan --output json > file`, and its restore script.

The AWS CLI (v1, from the venv) honours AWS_ENDPOINT_URL_DYNAMODB like boto3 does. Without
--page-size it sends Scan without a Limit, which DynamoDB Local answers in time quadratic in
the table's size; that is measured as written (stopped at a time limit, so a run stays
bounded) and, as a fair variant, with --page-size set to the Limit our backup uses.
"""

import shutil
import sys
from pathlib import Path

from bench.measurements import Measurement, Role
from bench.processes import ServerCpu, run_measured
from bench.workloads import Dataset

RESTORE_SCRIPT = Path(__file__).with_name("runbook_restore.py")


def aws_cli() -> str:
    """The venv's `aws` (requirements.txt, Benchmark section), else one on PATH."""
    beside_python = Path(sys.executable).with_name("aws")
    if beside_python.is_file():
        return str(beside_python)
    found = shutil.which("aws")
    if found is None:
        raise RuntimeError("the AWS CLI is missing: run `make venv` (awscli is in requirements.txt)")
    return found


def scan_to_file(
    table: str,
    data: Dataset,
    out_file: Path,
    engine: ServerCpu,
    *,
    page_size: int | None,
    time_limit: float | None,
) -> Measurement:
    """`aws dynamodb scan --table-name T --output json > out_file`, optionally with --page-size."""
    command = [aws_cli(), "dynamodb", "scan", "--table-name", table, "--output", "json"]
    if page_size is not None:
        command += ["--page-size", str(page_size)]
    engine_start = engine.seconds()
    run = run_measured(command, stdout_path=out_file, time_limit=time_limit)
    label = "runbook backup: aws dynamodb scan --output json > file"
    notes = [
        f"the CLI holds every page in memory and writes {out_file.stat().st_size / 1e6:,.0f} MB "
        "of indented JSON at the end"
    ]
    if page_size is None:
        label += " (as written)"
    else:
        label += f" --page-size {page_size}"
        notes.append("fair variant: the Limit our backup uses, sparing DynamoDB Local its quadratic scan")
    if not run.finished:
        notes = [
            f"stopped unfinished after {run.seconds:.0f} s: DynamoDB Local's Scan without a Limit is "
            "quadratic in the table's size; the rate shown is an upper bound"
        ]
    return Measurement(
        size=data.count,
        name=label,
        role=Role.RUNBOOK_BACKUP,
        items=data.count,
        seconds=run.seconds,
        json_bytes=data.json_bytes,
        client_cpu_seconds=run.cpu_seconds,
        engine_cpu_seconds=engine.seconds() - engine_start,
        peak_rss_mb=run.peak_rss_mb,
        complete=run.finished,
        notes=notes,
    )


def restore_from_file(backup_file: Path, table: str, data: Dataset, engine: ServerCpu) -> Measurement:
    """The runbook's Option 2 script, into an existing empty table (its Option 3 creates one)."""
    engine_start = engine.seconds()
    run = run_measured([sys.executable, str(RESTORE_SCRIPT), str(backup_file), table], Path("/dev/null"))
    return Measurement(
        size=data.count,
        name="runbook restore: json.load + Decimal + resource batch_writer",
        role=Role.RUNBOOK_RESTORE,
        items=data.count,
        seconds=run.seconds,
        json_bytes=data.json_bytes,
        client_cpu_seconds=run.cpu_seconds,
        engine_cpu_seconds=engine.seconds() - engine_start,
        peak_rss_mb=run.peak_rss_mb,
        notes=["one BatchWriteItem of 25 at a time, from one thread, after loading the whole file"],
    )
