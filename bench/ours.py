"""Our backup and restore, run as `python -m ledger_backup ...` in a fresh process each.

The CLI calls the same core (run_backup / run_restore with an S3 store) as the Lambda
handlers. Rates use the core's own `duration_seconds`, which leaves out interpreter start-up,
as the in-process raw measurements do; the process's wall time is noted beside it.
"""

import json
import sys
from dataclasses import dataclass
from typing import Any

from bench.measurements import Measurement, Role
from bench.processes import ProcessRun, ServerCpu, run_measured
from bench.workloads import Dataset


@dataclass(frozen=True)
class BackupRun:
    measurement: Measurement
    location: str  # s3://bucket/<manifest key>, what restore takes
    compressed_bytes: int


def cli_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "ledger_backup", *args]


def _core_seconds(run: ProcessRun, output: dict[str, Any]) -> float:
    seconds = output.get("duration_seconds")
    return float(seconds) if isinstance(seconds, int | float) and seconds > 0 else run.seconds


def backup(table: str, bucket: str, segments: int, data: Dataset, engine: ServerCpu) -> BackupRun:
    """`python -m ledger_backup backup TABLE --to s3://BUCKET/bench/ --segments N`."""
    size, json_bytes = data.count, data.json_bytes
    engine_start = engine.seconds()
    run = run_measured(
        cli_command("backup", table, "--to", f"s3://{bucket}/bench/", "--segments", str(segments))
    )
    output = json.loads(run.stdout)
    items = int(output["item_count"])
    if items != size:
        raise RuntimeError(f"our backup of {table} holds {items} items, the table {size}")
    measurement = Measurement(
        size=size,
        name=f"our backup (CLI = Lambda core), {segments} segments, to S3",
        role=Role.BACKUP,
        items=items,
        seconds=_core_seconds(run, output),
        json_bytes=json_bytes,
        client_cpu_seconds=run.cpu_seconds,
        engine_cpu_seconds=engine.seconds() - engine_start,
        peak_rss_mb=run.peak_rss_mb,
        output_bytes=int(output["compressed_bytes"]),
        notes=[
            f"process {run.seconds:.1f} s with start-up; gzip {int(output['compressed_bytes']) / 1e6:.1f} MB "
            f"from {int(output['uncompressed_bytes']) / 1e6:.1f} MB"
        ],
    )
    return BackupRun(measurement, str(output["location"]), int(output["compressed_bytes"]))


def restore(location: str, table: str, writers: int, data: Dataset, engine: ServerCpu) -> Measurement:
    """`python -m ledger_backup restore s3://... --table NEW --writers N` (checks every item as it writes)."""
    size, json_bytes = data.count, data.json_bytes
    engine_start = engine.seconds()
    run = run_measured(cli_command("restore", location, "--table", table, "--writers", str(writers)))
    output = json.loads(run.stdout)
    items = int(output["items_restored"])
    if items != size:
        raise RuntimeError(f"our restore into {table} wrote {items} items, the backup holds {size}")
    return Measurement(
        size=size,
        name=f"our restore (CLI = Lambda core), {writers} writers, from S3",
        role=Role.RESTORE,
        items=items,
        seconds=_core_seconds(run, output),
        json_bytes=json_bytes,
        client_cpu_seconds=run.cpu_seconds,
        engine_cpu_seconds=engine.seconds() - engine_start,
        peak_rss_mb=run.peak_rss_mb,
        notes=[f"process {run.seconds:.1f} s with start-up; one checking pass into the new table"],
    )
