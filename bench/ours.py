"""Our backup and restore, run as `python -m ledger_backup ...` in a fresh process each.

The CLI calls the same core (run_backup / run_restore with an S3 store) as the Lambda
handlers. Rates use the core's own `duration_seconds`, which leaves out interpreter start-up,
as the in-process raw measurements do; the process's wall time is noted beside it. The plan
(`diff`) reports no duration, so it and the `verify` it is compared with are both timed by
their process's wall time, start-up included in each.
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


# The CLI with CPython's own 5 ms switch interval: what interpreter.prefer_io_threads changes.
_DEFAULT_SWITCH = (
    "import sys, ledger_backup.cli as cli; cli.prefer_io_threads = lambda: None; "
    "sys.argv[0] = 'ledger_backup'; sys.exit(cli.main())"
)


def restore(
    location: str,
    table: str,
    writers: int,
    data: Dataset,
    engine: ServerCpu,
    *,
    default_switch_interval: bool = False,
) -> Measurement:
    """`python -m ledger_backup restore s3://... --table NEW --writers N` (checks every item as it writes).

    `default_switch_interval`: the same restore without the CLI's shorter switch interval.
    """
    size, json_bytes = data.count, data.json_bytes
    engine_start = engine.seconds()
    arguments = ("restore", location, "--table", table, "--writers", str(writers))
    command = (
        [sys.executable, "-c", _DEFAULT_SWITCH, *arguments]
        if default_switch_interval
        else cli_command(*arguments)
    )
    run = run_measured(command)
    output = json.loads(run.stdout)
    items = int(output["items_restored"])
    if items != size:
        raise RuntimeError(f"our restore into {table} wrote {items} items, the backup holds {size}")
    return Measurement(
        size=size,
        name=f"our restore (CLI = Lambda core), {writers} writers, from S3"
        + (", CPython's default 5 ms switch interval" if default_switch_interval else ""),
        role=Role.RESTORE_DEFAULT_SWITCH if default_switch_interval else Role.RESTORE,
        items=items,
        seconds=_core_seconds(run, output),
        json_bytes=json_bytes,
        client_cpu_seconds=run.cpu_seconds,
        engine_cpu_seconds=engine.seconds() - engine_start,
        peak_rss_mb=run.peak_rss_mb,
        notes=[f"process {run.seconds:.1f} s with start-up; one checking pass into the new table"],
    )


def _process_measurement(
    run: ProcessRun, name: str, role: Role, *, items: int, data: Dataset, engine_seconds: float, note: str
) -> Measurement:
    """A CLI process timed by its wall time, interpreter start-up included."""
    return Measurement(
        size=data.count,
        name=name,
        role=role,
        items=items,
        seconds=run.seconds,
        json_bytes=data.json_bytes,
        client_cpu_seconds=run.cpu_seconds,
        engine_cpu_seconds=engine_seconds,
        peak_rss_mb=run.peak_rss_mb,
        notes=[note],
    )


def plan(
    location: str,
    table: str,
    expected: dict[str, int],
    data: Dataset,
    engine: ServerCpu,
    *,
    time_limit: float,
) -> Measurement:
    """`python -m ledger_backup diff s3://... --against TABLE`: verify the backup, scan TABLE, compare keys.

    Raises unless the plan's counts are exactly `expected` (the differences the bench made), or
    when it has not finished within `time_limit` seconds (it is killed: a hung plan fails the run).
    """
    engine_start = engine.seconds()
    run = run_measured(cli_command("diff", location, "--against", table), time_limit=time_limit)
    if not run.finished:
        raise RuntimeError(f"our plan of {table} had not finished after {run.seconds:.0f} s and was killed")
    output = json.loads(run.stdout)
    changes = {kind: int(output["changes"][kind]) for kind in expected}
    if changes != expected:
        raise RuntimeError(f"our plan of {table} found {changes}, the bench made {expected}")
    return _process_measurement(
        run,
        "our plan (CLI diff = Lambda core), backup verified, table scanned, keys compared",
        Role.PLAN,
        items=int(output["item_count"]),
        data=data,
        engine_seconds=engine.seconds() - engine_start,
        note="process wall time, start-up included (the answer has no duration); "
        + ", ".join(f"{count:,} {kind}" for kind, count in changes.items()),
    )


def verify(location: str, data: Dataset, engine: ServerCpu) -> Measurement:
    """`python -m ledger_backup verify s3://...`: the plan's backup half alone, also a whole process."""
    engine_start = engine.seconds()
    run = run_measured(cli_command("verify", location))
    output = json.loads(run.stdout)
    items = int(output["item_count"])
    if output.get("status") != "verified" or items != data.count:
        raise RuntimeError(f"our verify of {location}: {output.get('status')}, {items} items")
    return _process_measurement(
        run,
        "our verify (CLI), every item checked",
        Role.VERIFY,
        items=items,
        data=data,
        engine_seconds=engine.seconds() - engine_start,
        note="process wall time, start-up included, as the plan's",
    )


def replace(
    location: str,
    table: str,
    writers: int,
    data: Dataset,
    engine: ServerCpu,
    *,
    extra: int,
    mode: str = "replace",
) -> Measurement:
    """`python -m ledger_backup restore s3://... --table T --mode replace --overwrite --writers N`.

    Raises unless every backup item was put and exactly `extra` keys were deleted. With mode
    "upsert" (`extra` 0): the same restore without the deletes, what replace is measured against.
    """
    size, json_bytes = data.count, data.json_bytes
    engine_start = engine.seconds()
    run = run_measured(
        cli_command(
            "restore",
            location,
            "--table",
            table,
            "--mode",
            mode,
            "--overwrite",
            "--writers",
            str(writers),
        )
    )
    output = json.loads(run.stdout)
    items, deleted = int(output["items_restored"]), int(output["items_deleted"])
    if items != size or deleted != extra:
        raise RuntimeError(
            f"our {mode} into {table} put {items} items and deleted {deleted}; expected {size} and {extra}"
        )
    return Measurement(
        size=size,
        name=f"our {mode} (CLI = Lambda core), {writers} writers, from S3 over the changed table",
        role=Role.REPLACE if mode == "replace" else Role.UPSERT,
        items=items,
        seconds=_core_seconds(run, output),
        json_bytes=json_bytes,
        client_cpu_seconds=run.cpu_seconds,
        engine_cpu_seconds=engine.seconds() - engine_start,
        peak_rss_mb=run.peak_rss_mb,
        notes=[
            f"process {run.seconds:.1f} s with start-up; every item put over the table's"
            + (f", then the table's keys scanned and {deleted:,} the backup lacks deleted" if extra else "")
        ],
    )
