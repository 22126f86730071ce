"""Turn the measurements of one run into the printed table, the target ratios and the cost model.

Every ratio compares measurements from the same run, against the same engine instance.
A missed target is printed as MISSED with the reason the numbers give; nothing is hidden.
"""

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.measurements import Measurement, Role
from devtools.local_aws import REPO_ROOT

RAW_RATIO_TARGET = 0.8
RESTORE_RATIO_TARGET = 0.9  # with every item check on (issue 11): the restore's floor is higher
CHECK_SHARE_LIMIT = 0.10  # the item checks may take at most this share of the restore's time per item
RUNBOOK_RATIO_TARGET = 3.0
MEMORY_GROWTH_LIMIT = 1.2
PLAN_RATIO_TARGET = 0.8  # the plan against its two halves, our verify and a raw Scan, one after the other
REPLACE_COST_LIMIT = 1.3  # the replace against a plain restore plus raw deletes of the extra keys
MB_PER_VCPU = 1769  # Lambda gives one full vCPU at 1,769 MB and CPU in proportion below it
PRICE_PER_GB_SECOND = {"arm64": 0.0000133334, "x86_64": 0.0000166667}  # Lambda list price, us-east-1


@dataclass(frozen=True)
class Target:
    what: str
    ratio: float
    limit: float
    at_most: bool = False  # the memory target is a ceiling, the speed targets are floors
    why_missed: str = ""

    @property
    def met(self) -> bool:
        return self.ratio <= self.limit if self.at_most else self.ratio >= self.limit

    def line(self) -> str:
        relation = "<=" if self.at_most else ">="
        verdict = "PASS" if self.met else "MISSED"
        text = f"  {verdict:6} {self.what}: {self.ratio:.3g}x (target {relation} {self.limit}x)"
        if not self.met and self.why_missed:
            text += f"\n         why: {self.why_missed}"
        return text


def _best(measurements: Iterable[Measurement], role: Role, size: int) -> Measurement | None:
    candidates = [m for m in measurements if m.role is role and m.size == size]
    return max(candidates, key=lambda m: m.items_per_second, default=None)


def _one(measurements: Iterable[Measurement], role: Role, size: int) -> Measurement | None:
    return next((m for m in measurements if m.role is role and m.size == size), None)


def table(measurements: Sequence[Measurement]) -> str:
    """One row per measurement, grouped by table size."""
    width = max((len(m.name) for m in measurements), default=20)
    header = (
        f"{'measurement':<{width}} {'items':>8} {'seconds':>8} {'items/s':>8} {'MB/s':>6} "
        f"{'client ms/item':>14} {'engine ms/item':>14} {'peak RSS MB':>11}"
    )
    lines = [header, "-" * len(header)]
    for size in sorted({m.size for m in measurements}):
        for m in (m for m in measurements if m.size == size):
            rss = f"{m.peak_rss_mb:.0f}" if m.peak_rss_mb is not None else "-"
            lines.append(
                f"{m.name:<{width}} {m.items:>8,} {m.seconds:>8.1f} {m.items_per_second:>8.0f} "
                f"{m.mb_per_second:>6.2f} {m.client_cpu_ms_per_item:>14.2f} "
                f"{m.engine_cpu_ms_per_item:>14.2f} {rss:>11}"
            )
            lines.extend(f"{'':<4}{note}" for note in m.notes)
        lines.append("")
    return "\n".join(lines)


_EXTRA_WORK = {
    Role.BACKUP: "ours also writes every item into a backup line, gzips it and uploads it to S3",
    Role.RESTORE: (
        "ours reads the backup once into the table it creates, gunzipping, hashing and parsing every line, "
        "checking every item against DynamoDB's rules and counting duplicate keys as it writes; "
        "the raw run sends prepared requests"
    ),
}


def _speed_targets(measurements: Sequence[Measurement], size: int) -> list[Target]:
    """Ours against the best raw run, and against the stock client's where that was measured."""
    targets: list[Target] = []
    pairs = ((Role.BACKUP, Role.RAW_READ, "parallel Scan"), (Role.RESTORE, Role.RAW_WRITE, "BatchWriteItem"))
    for ours_role, raw_role, raw_name in pairs:
        ours = _one(measurements, ours_role, size)
        best = _best(measurements, raw_role, size)
        if ours is None or best is None:
            continue
        stock = next(
            (m for m in measurements if m.role is raw_role and m.size == size and "stock" in m.name), None
        )
        for raw in (best, stock) if stock is not None and stock is not best else (best,):
            which = "best raw" if raw is best else "raw"
            client = raw.name.split(",")[-1].strip()
            targets.append(
                Target(
                    f"{ours_role} vs the {which} {raw_name} ({client}), {size:,} items",
                    ours.items_per_second / raw.items_per_second,
                    RESTORE_RATIO_TARGET if ours_role is Role.RESTORE else RAW_RATIO_TARGET,
                    why_missed=(
                        f"{ours.client_cpu_ms_per_item:.2f} ms of client CPU per item against "
                        f"{raw.client_cpu_ms_per_item:.2f} for the raw run, with the engine needing "
                        f"{raw.engine_cpu_ms_per_item:.2f} ms on the same 2 cores: {_EXTRA_WORK[ours_role]}"
                    ),
                )
            )
    return targets


def _check_share_target(measurements: Sequence[Measurement], size: int) -> list[Target]:
    """Time per item spent in ItemRules over time per item of the whole restore, at one size."""
    restore, checks = _one(measurements, Role.RESTORE, size), _one(measurements, Role.ITEM_CHECKS, size)
    if restore is None or checks is None or not checks.items_per_second:
        return []
    return [
        Target(
            f"item checks' share of our restore's time per item, {size:,} items "
            f"({1e6 / checks.items_per_second:.0f} of {1e6 / restore.items_per_second:.0f} us)",
            restore.items_per_second / checks.items_per_second,
            CHECK_SHARE_LIMIT,
            at_most=True,
            why_missed="ItemRules walks every attribute value of every item in Python",
        )
    ]


def _plan_target(measurements: Sequence[Measurement], size: int) -> list[Target]:
    """The plan's items/s against those of its halves run one after the other (every one the same items)."""
    plan, verify = _one(measurements, Role.PLAN, size), _one(measurements, Role.VERIFY, size)
    scan = _one(measurements, Role.PLAN_SCAN, size)
    if plan is None or verify is None or scan is None or not plan.seconds:
        return []
    halves = verify.seconds + scan.seconds
    return [
        Target(
            f"our plan vs our verify then the raw parallel Scan of the table, {size:,} items "
            f"({plan.seconds:.1f} s against {verify.seconds:.1f} + {scan.seconds:.1f} s)",
            halves / plan.seconds,
            PLAN_RATIO_TARGET,
            why_missed=(
                f"{plan.client_cpu_ms_per_item:.2f} ms of client CPU per item against "
                f"{verify.client_cpu_ms_per_item + scan.client_cpu_ms_per_item:.2f} for the halves: "
                "the plan also parses every scanned item for its key, hashes both sides' item texts, "
                "writes them into an SQLite index and joins them, digesting by value (and reading the "
                "table again by key) only the keys whose texts differ"
            ),
        )
    ]


def _replace_target(measurements: Sequence[Measurement], size: int) -> list[Target]:
    """The replace's seconds against an upsert's of the same backup over the same table, plus raw
    deletes of the keys it removed: the replace is that upsert and those deletes."""
    replace, restore = _one(measurements, Role.REPLACE, size), _one(measurements, Role.UPSERT, size)
    deletes = _one(measurements, Role.RAW_DELETE, size)
    if replace is None or restore is None or deletes is None:
        return []
    plain = restore.seconds + deletes.seconds
    return [
        Target(
            f"our replace vs our upsert over the same table plus raw deletes of {deletes.items:,} keys, "
            f"{size:,} items ({replace.seconds:.1f} s against {restore.seconds:.1f} "
            f"+ {deletes.seconds:.2f} s)",
            replace.seconds / plain,
            REPLACE_COST_LIMIT,
            at_most=True,
            why_missed=(
                f"{replace.client_cpu_ms_per_item:.2f} ms of client CPU per item against "
                f"{restore.client_cpu_ms_per_item:.2f} for the upsert, and "
                f"{replace.engine_cpu_ms_per_item:.2f} ms of engine CPU against "
                f"{restore.engine_cpu_ms_per_item:.2f}: the replace also keeps the backup's keys, "
                "then scans every key of the table and looks each up in them"
            ),
        )
    ]


def _runbook_targets(measurements: Sequence[Measurement]) -> list[Target]:
    """Ours against the runbook at the size it ran at; a runbook run stopped at its time limit only
    gives a lower bound on the ratio, which is kept when it already meets the target."""
    targets: list[Target] = []
    for ours_role, runbook_role in ((Role.BACKUP, Role.RUNBOOK_BACKUP), (Role.RESTORE, Role.RUNBOOK_RESTORE)):
        for runbook in (m for m in measurements if m.role is runbook_role):
            ours = _one(measurements, ours_role, runbook.size)
            if ours is None:
                continue
            ratio = ours.items_per_second / runbook.items_per_second
            if not runbook.complete and ratio < RUNBOOK_RATIO_TARGET:
                continue  # inconclusive: the runbook might have sped up had it been left to finish
            bound = "" if runbook.complete else " (at least: the runbook was stopped unfinished)"
            what = f"{ours_role} vs {runbook.name}, {runbook.size:,} items{bound}"
            targets.append(Target(what, ratio, RUNBOOK_RATIO_TARGET))
    return targets


def _memory_why(role: Role, small: Measurement, large: Measurement) -> str:
    if role is Role.PLAN:
        return (
            "the plan's index is an SQLite file on disk with a small page cache, so peak memory should not "
            "follow the table: something (a key set, a queue of scanned pages, the report) holds per-key "
            "state in memory"
        )
    if role is Role.BACKUP and small.output_bytes and large.output_bytes:
        return (
            "each scan segment buffers its gzip output up to one 8 MB S3 part (s3_upload.py): "
            f"{small.output_bytes / 1e6:.1f} MB of gzip in all at {small.size:,} "
            f"items left those buffers part-empty, {large.output_bytes / 1e6:.1f} MB at {large.size:,} "
            "filled them; they are bounded, so this is their ceiling rather than growth with the table"
        )
    return "peak memory grows with the table: something holds more than a page or a batch of items"


def _memory_targets(measurements: Sequence[Measurement]) -> list[Target]:
    sizes = sorted({m.size for m in measurements})
    if len(sizes) < 2:
        return []
    small, large = sizes[0], sizes[-1]
    targets: list[Target] = []
    for role in (Role.BACKUP, Role.RESTORE, Role.PLAN):
        a, b = _one(measurements, role, small), _one(measurements, role, large)
        if a is None or b is None or not a.peak_rss_mb or not b.peak_rss_mb:
            continue
        targets.append(
            Target(
                f"{role} peak RSS at {large:,} items / at {small:,} items "
                f"({b.peak_rss_mb:.0f} / {a.peak_rss_mb:.0f} MB)",
                b.peak_rss_mb / a.peak_rss_mb,
                MEMORY_GROWTH_LIMIT,
                at_most=True,
                why_missed=_memory_why(role, a, b),
            )
        )
    return targets


def targets(measurements: Sequence[Measurement]) -> list[Target]:
    """Every target the run has the measurements for."""
    found: list[Target] = []
    for size in sorted({m.size for m in measurements}):
        found.extend(_speed_targets(measurements, size))
        found.extend(_check_share_target(measurements, size))
        found.extend(_plan_target(measurements, size))
        found.extend(_replace_target(measurements, size))
    return found + _runbook_targets(measurements) + _memory_targets(measurements)


def configured_memory_mb() -> dict[str, int]:
    """lambda_memory_mb of each environment in cdk.json, read through infra.config's own parser."""
    from infra.config import ENVIRONMENTS_CONTEXT_KEY, parse_environments  # noqa: PLC0415 - optional

    context = json.loads((REPO_ROOT / "cdk.json").read_text())["context"]
    configs = parse_environments(context[ENVIRONMENTS_CONTEXT_KEY])
    return {name: config.lambda_memory_mb for name, config in configs.items()}


def cost_model(measurements: Sequence[Measurement], memory_mb: dict[str, int]) -> list[str]:
    """GB-seconds per million items at the configured memory, as measured here and as Lambda's CPU allows."""
    largest = max((m.size for m in measurements), default=0)
    lines = []
    for memory in sorted(set(memory_mb.values())):
        envs = ", ".join(sorted(name for name, mb in memory_mb.items() if mb == memory))
        gb = memory / 1024
        vcpu = min(1.0, memory / MB_PER_VCPU)
        lines.append(f"  {memory} MB ({envs}): {gb:.2f} GB, {vcpu:.2f} vCPU on Lambda")
        for role in (Role.BACKUP, Role.RESTORE):
            m = _one(measurements, role, largest)
            if m is None:
                continue
            here = 1e6 / m.items_per_second
            cpu_bound = 1e6 * m.client_cpu_seconds / m.items / vcpu
            lines.append(
                f"    {role}: {gb * here:,.0f} GB-s per million items at this machine's rate "
                f"({here:,.0f} s); if the client CPU is the limit, {gb * cpu_bound:,.0f} GB-s "
                f"({m.client_cpu_ms_per_item:.2f} ms CPU/item on {vcpu:.2f} vCPU) = "
                f"${gb * cpu_bound * PRICE_PER_GB_SECOND['arm64']:.3f} arm64 / "
                f"${gb * cpu_bound * PRICE_PER_GB_SECOND['x86_64']:.3f} x86_64"
            )
    lines.append(
        "  assumptions: DynamoDB Local on 2 cores shared with the client and the S3 server is far slower "
        "than DynamoDB, so the first figure is an upper bound; the second assumes DynamoDB keeps up and "
        "Lambda's CPU share (memory/1769 MB of a vCPU) runs the same client code at this machine's speed. "
        "Prices: Lambda list price per GB-s, us-east-1; requests, DynamoDB and S3 charges not included."
    )
    return lines


def render(
    measurements: Sequence[Measurement],
    memory_mb: dict[str, int],
    profile: Sequence[str],
    context: Sequence[str],
) -> str:
    """The whole printed report."""
    found = targets(measurements)
    parts = [
        "=== ledger-backup benchmark ===",
        *context,
        "",
        table(measurements),
        "Targets (ratios of items/s in this run):",
        *(t.line() for t in found),
        "",
        "Lambda cost model (per million ledger items):",
        *cost_model(measurements, memory_mb),
    ]
    if profile:
        parts += ["", "Where the client CPU goes (py-spy samples of our processes):", *profile]
    missed = [t for t in found if not t.met]
    parts += [
        "",
        f"{len(found) - len(missed)} of {len(found)} targets met" + (", MISSED: " if missed else "."),
    ]
    parts += [f"  {t.what}" for t in missed]
    return "\n".join(parts)


def write_json(path: Path, measurements: Sequence[Measurement], memory_mb: dict[str, int]) -> None:
    """The same numbers for machines (the smoke test reads them)."""
    document: dict[str, Any] = {
        "measurements": [m.to_json() for m in measurements],
        "targets": [
            {"what": t.what, "ratio": round(t.ratio, 3), "limit": t.limit, "met": t.met}
            for t in targets(measurements)
        ],
        "lambda_memory_mb": memory_mb,
    }
    path.write_text(json.dumps(document, indent=2) + "\n")
