"""One measured run of something that moves a table's items, and the rates derived from it."""

from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any


class Role(StrEnum):
    """What a measurement is compared with: reads with reads, writes with writes."""

    RAW_READ = "raw read"
    RAW_WRITE = "raw write"
    BACKUP = "our backup"
    RESTORE = "our restore"
    RESTORE_DEFAULT_SWITCH = "our restore, default switch interval"  # without interpreter.prefer_io_threads
    RUNBOOK_BACKUP = "runbook backup"
    RUNBOOK_RESTORE = "runbook restore"
    ITEM_CHECKS = "item checks"  # ItemRules alone, in this process: what refusing bad items costs a restore
    PLAN = "our plan"  # `diff` against a table made to differ from the backup
    VERIFY = "our verify"  # the plan's backup half alone, as a process like the plan
    PLAN_SCAN = "raw plan read"  # a raw Scan of the plan's table: the plan's table half alone
    REPLACE = "our replace"  # restore --mode replace over that table
    UPSERT = "our upsert"  # restore --mode upsert over that table: the replace without its deletes
    RAW_DELETE = "raw delete"  # BatchWriteItem deletes of the keys a replace removes


@dataclass(frozen=True)
class Measurement:
    """`items` moved in `seconds`; `json_bytes` is their size as DynamoDB JSON lines (the MB unit)."""

    size: int  # the table size this belongs to
    name: str
    role: Role
    items: int
    seconds: float
    json_bytes: int
    client_cpu_seconds: float
    engine_cpu_seconds: float
    peak_rss_mb: float | None = None
    complete: bool = True  # False: stopped at a time limit, so items_per_second is an upper bound
    output_bytes: int | None = None  # what it wrote, when that is a file (gzip for our backup)
    notes: list[str] = field(default_factory=list)

    @property
    def items_per_second(self) -> float:
        return self.items / self.seconds if self.seconds > 0 else 0.0

    @property
    def mb_per_second(self) -> float:
        return self.json_bytes / 1e6 / self.seconds if self.seconds > 0 else 0.0

    @property
    def client_cpu_ms_per_item(self) -> float:
        return 1000 * self.client_cpu_seconds / self.items if self.items else 0.0

    @property
    def engine_cpu_ms_per_item(self) -> float:
        return 1000 * self.engine_cpu_seconds / self.items if self.items else 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            **asdict(self),
            "role": str(self.role),
            "items_per_second": round(self.items_per_second, 1),
            "mb_per_second": round(self.mb_per_second, 3),
            "client_cpu_ms_per_item": round(self.client_cpu_ms_per_item, 3),
            "engine_cpu_ms_per_item": round(self.engine_cpu_ms_per_item, 3),
        }
