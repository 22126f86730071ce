"""The whole benchmark in one run: one DynamoDB Local and one S3 server for every measurement.

Per table size, in this order (so every Scan reads a table of the same size, and every write
but the incident's goes into a fresh table while the engine holds nothing else):
  raw threaded BatchWriteItems (the last one creates the source table), raw parallel Scans,
  our backup, the runbook's scan, then with the source dropped: our restore; the incident:
  the restored table made to differ from the backup (bench/differences.py), our plan of it,
  our verify and a raw Scan of it (the plan's two halves one after the other), our replace
  over it and raw deletes of its extra keys; then the runbook's restore. The stock-client
  raw variants and the profiles run at the smallest size only, the runbook at one size:
  they are slow, and one size is enough to show them.
"""

import os
import platform
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
import botocore

from bench import engine, item_rules, ours, runbook
from bench.differences import Differences, batches, differences
from bench.fidelity import sampled_copies
from bench.measurements import Measurement, Role
from bench.processes import ServerCpu
from bench.profiling import Profile, profile_command
from bench.workloads import (
    LEDGER_SCHEMA,
    Dataset,
    build_items,
    count_items,
    create_ledger_table,
    dataset,
    drop_table,
)
from devtools.local_aws import aws_environ, local_aws
from ledger_backup.aws.clients import dynamodb_client
from ledger_backup.aws.tables import scan_page_size
from ledger_backup.codec import encode_write_request

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

BUCKET = "ledger-bench"
RUNBOOK_PATIENCE = 1.25  # the runbook's scan as written may take this many times the fair variant's time
# Each measurement starts once DynamoDB Local has settled: using under this share of a core over half a
# second. Earlier steps leave it working (a runbook Scan stopped at its time limit still runs server-side,
# a dropped table is deleted in the background), which would slow whichever measurement came next.
ENGINE_SETTLED_SHARE = 0.05
ENGINE_SETTLE_PATIENCE = 180.0  # seconds; past it the measurement starts anyway, and says so
PLAN_PATIENCE = 20.0  # our plan is killed (and the run fails) after this many times our restore's time
Progress = Callable[[str], None]


@dataclass(frozen=True)
class BenchOptions:
    sizes: tuple[int, ...] = (20_000, 100_000)
    segments: int = 4  # the stack's SCAN_SEGMENTS default
    writers: int = 4  # the stack's RESTORE_WRITERS default
    runbook_size: int | None = None  # None: the smallest size
    warm_up_items: int = 2_000
    profile: bool = True


@dataclass
class BenchRun:
    measurements: list[Measurement] = field(default_factory=list)
    profiles: list[Profile] = field(default_factory=list)
    context: list[str] = field(default_factory=list)


def progress_printer() -> Progress:
    started = time.monotonic()

    def say(message: str) -> None:
        elapsed = int(time.monotonic() - started)
        print(f"[{elapsed // 60:02d}:{elapsed % 60:02d}] {message}", file=sys.stderr, flush=True)

    return say


def _raw(name: str, role: Role, result: engine.RawResult, data: Dataset, engine_cpu: float) -> Measurement:
    return Measurement(
        size=data.count,
        name=name,
        role=role,
        items=result.items,
        seconds=result.seconds,
        json_bytes=data.json_bytes,
        client_cpu_seconds=result.cpu_seconds,
        engine_cpu_seconds=engine_cpu,
    )


class Bench:
    """Runs the measurements against the local services of one `local_aws()` block."""

    def __init__(self, options: BenchOptions, say: Progress, scratch: Path) -> None:
        self.options = options
        self.say = say
        self.scratch = scratch
        self.dynamodb: DynamoDBClient = boto3.client("dynamodb")
        self.engine = ServerCpu("DynamoDBLocal.jar")
        self.result = BenchRun()
        self.smallest = min(options.sizes)
        self.runbook_size = options.runbook_size or self.smallest

    def _record(self, measurement: Measurement) -> Measurement:
        self.result.measurements.append(measurement)
        self.say(
            f"  {measurement.name}: {measurement.items_per_second:,.0f} items/s "
            f"({measurement.seconds:.1f} s)"
            + ("" if measurement.complete else " [stopped at the time limit]")
        )
        return measurement

    def _settle(self) -> None:
        """Wait until DynamoDB Local has finished what earlier steps left it doing (ENGINE_SETTLED_SHARE)."""
        deadline = time.monotonic() + ENGINE_SETTLE_PATIENCE
        before = self.engine.seconds()
        while time.monotonic() < deadline:
            time.sleep(0.5)
            now = self.engine.seconds()
            if now - before < 0.5 * ENGINE_SETTLED_SHARE:
                return
            before = now
        self.say(f"  DynamoDB Local was still busy after {ENGINE_SETTLE_PATIENCE:.0f} s; measuring anyway")

    def _raw_write(self, data: Dataset, table: str, name: str, client: Any, json_encoded: bool) -> None:
        batches = engine.put_batches(data.items)
        create_ledger_table(self.dynamodb, table)
        self._settle()
        before = self.engine.seconds()
        result = engine.threaded_batch_write(
            client, table, batches, self.options.writers, json_encoded=json_encoded
        )
        self._record(_raw(name, Role.RAW_WRITE, result, data, self.engine.seconds() - before))

    def _raw_write_texts(self, data: Dataset, table: str) -> None:
        """The strictest write ceiling: requests encoded before the clock starts."""
        batches = engine.put_request_texts(engine.put_batches(data.items))
        create_ledger_table(self.dynamodb, table)
        self._settle()
        before = self.engine.seconds()
        writers = self.options.writers
        result = engine.threaded_batch_write_texts(dynamodb_client(writers * 2), table, batches, writers)
        name = f"raw BatchWriteItem, {writers} threads, our client (requests as text)"
        self._record(_raw(name, Role.RAW_WRITE, result, data, self.engine.seconds() - before))
        drop_table(self.dynamodb, table)

    def _raw_scan(
        self,
        data: Dataset,
        table: str,
        limit: int,
        name: str,
        client: Any,
        *,
        as_text: bool = False,
        role: Role = Role.RAW_READ,
    ) -> None:
        self._settle()
        before = self.engine.seconds()
        result = engine.parallel_scan(client, table, self.options.segments, limit, as_text=as_text)
        if result.items != data.count:
            raise RuntimeError(f"raw scan of {table} read {result.items} items, expected {data.count}")
        self._record(_raw(name, role, result, data, self.engine.seconds() - before))

    def warm_up(self, items: list[dict[str, Any]]) -> None:
        """JIT-compile the engine's write and scan paths before anything is measured."""
        self.say(f"warming DynamoDB Local up with {self.options.warm_up_items:,} items")
        data = dataset(items, self.options.warm_up_items)
        batches = engine.put_batches(data.items)
        threads = self.options.writers
        for validate, json_encoded, table in ((True, False, "bench-warm-a"), (False, True, "bench-warm-b")):
            client = (
                dynamodb_client(threads * 2)
                if json_encoded
                else engine.raw_client(threads, validate=validate)
            )
            create_ledger_table(self.dynamodb, table)
            engine.threaded_batch_write(client, table, batches, threads, json_encoded=json_encoded)
            engine.parallel_scan(client, table, self.options.segments, 500)
            drop_table(self.dynamodb, table)

    def measure_size(self, items: list[dict[str, Any]], size: int) -> None:
        data = dataset(items, size)
        writers, segments = self.options.writers, self.options.segments
        self.say(f"{size:,} items ({data.json_bytes / 1e6:,.0f} MB as DynamoDB JSON)")
        if size == self.smallest:
            for validate in (True, False):
                setting = "stock boto3 client" if validate else "boto3 client, parameter_validation=False"
                table = f"bench-{size}-validate-{str(validate).lower()}"
                name = f"raw BatchWriteItem, {writers} threads, {setting}"
                self._raw_write(data, table, name, engine.raw_client(writers, validate=validate), False)
                drop_table(self.dynamodb, table)
        self._raw_write_texts(data, f"bench-{size}-texts")
        source = f"bench-{size}-source"
        name = f"raw BatchWriteItem, {writers} threads, our client (json encoding)"
        self._raw_write(data, source, name, dynamodb_client(writers * 2), True)
        limit = scan_page_size(dict(self.dynamodb.describe_table(TableName=source)["Table"]))
        if size == self.smallest:
            name = f"raw parallel Scan, {segments} segments, Limit {limit}, stock boto3 client"
            self._raw_scan(data, source, limit, name, engine.raw_client(segments, validate=True))
        name = f"raw parallel Scan, {segments} segments, Limit {limit}, our client (json parsing)"
        self._raw_scan(data, source, limit, name, dynamodb_client(segments * 2))
        name = f"raw parallel Scan, {segments} segments, Limit {limit}, our client (items as text)"
        self._raw_scan(data, source, limit, name, dynamodb_client(segments * 2), as_text=True)

        self._settle()
        backup = ours.backup(source, BUCKET, segments, data, self.engine)
        self._record(backup.measurement)
        if self.options.profile and size == self.smallest:
            self.say("  profiling a second backup with py-spy (not timed)")
            command = ours.cli_command(
                "backup", source, "--to", f"s3://{BUCKET}/profile/", "--segments", str(segments)
            )
            self.result.profiles.append(profile_command(command, f"our backup, {size:,} items", size))
        scan_file = self.scratch / f"scan-{size}.json"
        if size == self.runbook_size:
            self._runbook_scans(data, source, limit, scan_file)
        drop_table(self.dynamodb, source)

        target = f"bench-{size}-restored"
        self._settle()
        restored = ours.restore(backup.location, target, writers, data, self.engine)
        restored.notes.append(sampled_copies(self.dynamodb, target, data.items))
        self._record(restored)
        if size == self.smallest:
            self._restore_with_default_switch(data, backup.location)
        self._plan_and_replace(data, backup.location, target, limit, restored.seconds)
        drop_table(self.dynamodb, target)
        self._item_checks(data)
        if self.options.profile and size == self.smallest:
            self.say("  profiling a second restore with py-spy (not timed)")
            target = f"bench-{size}-profiled"
            command = ours.cli_command(
                "restore", backup.location, "--table", target, "--writers", str(writers)
            )
            self.result.profiles.append(profile_command(command, f"our restore, {size:,} items", size))
            drop_table(self.dynamodb, target)
        if size == self.runbook_size:
            self._runbook_restore(data, scan_file)

    def _restore_with_default_switch(self, data: Dataset, location: str) -> None:
        """Our restore with CPython's 5 ms switch interval: what interpreter.prefer_io_threads changes."""
        other = f"bench-{data.count}-restored-default-switch"
        self._settle()
        writers = self.options.writers
        self._record(ours.restore(location, other, writers, data, self.engine, default_switch_interval=True))
        drop_table(self.dynamodb, other)

    def _write_untimed(self, table: str, requests: list[dict[str, Any]]) -> None:
        writers = self.options.writers
        engine.threaded_batch_write(
            dynamodb_client(writers * 2), table, batches(requests), writers, json_encoded=True
        )

    def _expect_count(self, table: str, expected: int, after: str) -> None:
        found = count_items(self.dynamodb, table)
        if found != expected:
            raise RuntimeError(f"{table} holds {found} items after {after}, expected {expected}")

    def _plan_and_replace(
        self, data: Dataset, location: str, table: str, limit: int, restore_seconds: float
    ) -> None:
        """`table` holds exactly the backup at `location`: make it differ, plan it, replace it.

        The plan is measured beside its two halves run one after the other (our verify of the
        backup, a raw Scan of the table); the replace beside an upsert of the same backup over the
        same table (puts over existing items cost the engine more than into a new table) plus raw
        deletes of the keys the replace removed.
        """
        made = differences(data.items)
        self._write_untimed(table, made.requests())
        self._expect_count(table, data.count, "the differences")  # as many deleted as added
        n = made.count
        self.say(f"  {table} changed: {n:,} items deleted, {n:,} changed, {n:,} keys added")
        expected = {"missing": n, "changed": n, "same": data.count - 2 * n, "extra": n}
        time_limit = max(60.0, PLAN_PATIENCE * restore_seconds)
        self._settle()
        self._record(ours.plan(location, table, expected, data, self.engine, time_limit=time_limit))
        self._settle()
        self._record(ours.verify(location, data, self.engine))
        segments, writers = self.options.segments, self.options.writers
        name = (
            f"raw parallel Scan of the changed table, {segments} segments, Limit {limit}, "
            "our client (items as text)"
        )
        client = dynamodb_client(segments * 2)
        self._raw_scan(data, table, limit, name, client, as_text=True, role=Role.PLAN_SCAN)

        self._settle()
        upserted = ours.replace(location, table, writers, data, self.engine, extra=0, mode="upsert")
        upserted.notes.append(sampled_copies(self.dynamodb, table, data.items))
        self._record(upserted)
        self._expect_count(table, data.count + n, "our upsert")  # the extra keys are still there
        self._settle()
        replaced = ours.replace(location, table, writers, data, self.engine, extra=n)
        self._expect_count(table, data.count, "our replace")
        replaced.notes.append(sampled_copies(self.dynamodb, table, data.items))
        self._record(replaced)
        self._raw_delete(data, table, made)

    def _raw_delete(self, data: Dataset, table: str, made: Differences) -> None:
        """The extra keys put back untimed, then deleted on the clock by requests encoded before it."""
        self._write_untimed(table, made.extra_puts())
        self._expect_count(table, data.count + made.count, "the extra keys were put back")
        texts = [[encode_write_request(r) for r in batch] for batch in batches(made.extra_deletes())]
        writers = self.options.writers
        self._settle()
        before = self.engine.seconds()
        result = engine.threaded_batch_write_texts(dynamodb_client(writers * 2), table, texts, writers)
        engine_cpu = self.engine.seconds() - before
        if result.items != made.count:
            raise RuntimeError(f"raw deletes from {table} removed {result.items} keys, expected {made.count}")
        self._expect_count(table, data.count, "the raw deletes")
        self._record(
            Measurement(
                size=data.count,
                name=f"raw BatchWriteItem deletes of the extra keys, {writers} threads, our client "
                "(requests as text)",
                role=Role.RAW_DELETE,
                items=result.items,
                seconds=result.seconds,
                json_bytes=dataset(made.extra, made.count).json_bytes,
                client_cpu_seconds=result.cpu_seconds,
                engine_cpu_seconds=engine_cpu,
                notes=["the keys our replace deleted, put back untimed first; MB are those items' lines"],
            )
        )

    def _item_checks(self, data: Dataset) -> None:
        """ItemRules alone over the same items, in this process, so its share of a restore can be read off."""
        self._settle()
        rate = item_rules.check_rate(data.items, LEDGER_SCHEMA)
        seconds = data.count / rate
        name = "item checks alone (ItemRules, every rule on), 1 thread, in process"
        self._record(
            Measurement(
                size=data.count,
                name=name,
                role=Role.ITEM_CHECKS,
                items=data.count,
                seconds=seconds,
                json_bytes=data.json_bytes,
                client_cpu_seconds=seconds,
                engine_cpu_seconds=0.0,
                notes=["best of 3; the lines are decoded untimed just before their items are checked"],
            )
        )

    def _runbook_scans(self, data: Dataset, table: str, limit: int, scan_file: Path) -> None:
        """The fair variant first, whose file the runbook's restore reads; then the runbook as written,
        stopped when it has taken RUNBOOK_PATIENCE times as long (its scan is quadratic here)."""
        self._settle()
        fair = runbook.scan_to_file(table, data, scan_file, self.engine, page_size=limit, time_limit=None)
        self._record(fair)
        as_written_file = self.scratch / "scan-as-written.json"
        time_limit = max(30.0, RUNBOOK_PATIENCE * fair.seconds)
        self._settle()
        self._record(
            runbook.scan_to_file(
                table, data, as_written_file, self.engine, page_size=None, time_limit=time_limit
            )
        )
        as_written_file.unlink()

    def _runbook_restore(self, data: Dataset, scan_file: Path) -> None:
        target = f"bench-{data.count}-runbook"
        create_ledger_table(self.dynamodb, target)
        self._settle()
        restored = runbook.restore_from_file(scan_file, target, data, self.engine)
        written = count_items(self.dynamodb, target)
        if written != data.count:
            raise RuntimeError(
                f"the runbook's restore left {written} items in {target}, expected {data.count}"
            )
        restored.notes.append(sampled_copies(self.dynamodb, target, data.items))
        self._record(restored)
        drop_table(self.dynamodb, target)
        scan_file.unlink()


def _machine() -> str:
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    return f"{os.cpu_count()} CPUs, load average {load}"


def run(options: BenchOptions, say: Progress) -> BenchRun:
    """Start the local services, measure every size, stop the services."""
    started = time.monotonic()
    items = build_items(max(options.sizes), say)
    with (
        local_aws() as services,
        aws_environ(services),
        tempfile.TemporaryDirectory(prefix="ledger-bench-") as scratch,
    ):
        boto3.client("s3").create_bucket(Bucket=BUCKET)
        bench = Bench(options, say, Path(scratch))
        bench.result.context += [
            f"machine: {platform.machine()}, {_machine()} at the start; Python {platform.python_version()}, "
            f"botocore {botocore.__version__}",
            f"engine: DynamoDB Local (in memory) {services.dynamodb_endpoint}; S3: moto server "
            f"{services.s3_endpoint}; both on this machine, sharing its cores with the client",
            f"items: devtools.ledger_items; {options.segments} scan segments and {options.writers} "
            "writer threads for ours and the raw runs alike",
        ]
        bench.warm_up(items)
        for size in sorted(options.sizes):
            bench.measure_size(items, size)
        bench.result.context.append(
            f"at the end: {_machine()}; the run took {(time.monotonic() - started) / 60:.1f} minutes"
        )
        return bench.result
