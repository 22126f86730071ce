"""What the CLI shows a person at a terminal: a progress bar on stderr, and `list` as a table.

Only the CLI imports this (rich is no dependency of the Lambda functions). The bar is a
reporting.ProgressListener the commands hand to the core; stdout never passes through rich
here, so a command's JSON is the same whether a bar ran or not.
"""

import threading
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Any, TextIO

from rich.console import Console, RenderableType
from rich.filesize import decimal
from rich.progress import BarColumn, Progress, ProgressColumn, Task, TaskID, TextColumn
from rich.table import Table
from rich.text import Text


def _clock(seconds: float) -> str:
    return str(timedelta(seconds=round(seconds)))


def _when(timestamp: str) -> str:
    """A manifest's ISO 8601 time, to the second, in UTC (as recorded), or as it stands if unreadable."""
    try:
        return datetime.fromisoformat(timestamp).astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    except ValueError:
        return timestamp


class _Bar(ProgressColumn):
    """The bar, only when the stage's total is known: without one there is just the counter."""

    def __init__(self) -> None:
        super().__init__()
        self._bar = BarColumn(bar_width=30)

    def render(self, task: Task) -> RenderableType:
        return Text("") if task.total is None else self._bar.render(task)


class _Count(ProgressColumn):
    def render(self, task: Task) -> Text:
        done = f"{task.completed:,.0f}"
        return Text(f"{done} items" if task.total is None else f"{done}/{task.total:,.0f} items")


class _Rate(ProgressColumn):
    """The last seconds' rate while a stage runs; the whole stage's once it is done."""

    def render(self, task: Task) -> Text:
        speed = task.speed
        if task.finished and task.finished_time:
            speed = task.completed / task.finished_time
        return Text("" if speed is None else f"{speed:,.0f} items/s")


class _Time(ProgressColumn):
    """Time left while a stage with a total runs; its whole time once it is done; else nothing."""

    def render(self, task: Task) -> Text:
        if task.finished:
            return Text(f"done in {_clock(task.finished_time or 0)}")
        if task.total is None or task.time_remaining is None:
            return Text("")
        return Text(f"{_clock(task.time_remaining)} left")


class ProgressBar:
    """A reporting.ProgressListener drawn on stderr: one line per stage, e.g.

    `writing  ━━━━━━━━━━━━╸━━━━━━━━━  43,000/100,000 items  8,512 items/s  0:00:07 left`

    Use as a context manager around the core call: leaving the block draws the last state and
    gives the terminal back (cursor shown) before the command prints its JSON. `advance` may be
    called from several threads (a backup's scan segments).
    """

    def __init__(self, stream: TextIO) -> None:
        self._progress = Progress(
            TextColumn("{task.description}"),
            _Bar(),
            _Count(),
            _Rate(),
            _Time(),
            console=Console(file=stream),
            # No swapping of sys.stdout/sys.stderr: stdout carries the JSON document alone, and
            # log lines reach the bar's console by print_line (the CLI's logging handler).
            redirect_stdout=False,
            redirect_stderr=False,
        )
        self._lock = threading.Lock()
        self._task: TaskID | None = None

    def __enter__(self) -> "ProgressBar":
        self._progress.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self._finish_stage()
        self.stop()

    def print_line(self, line: str) -> None:
        """A line of text on stderr: above the bar while it runs."""
        self._progress.console.print(line, markup=False, highlight=False, soft_wrap=True)

    def stop(self) -> None:
        """Draw the last state and show the cursor again; a second call does nothing."""
        self._progress.stop()

    def begin(self, stage: str, total: int | None) -> None:
        with self._lock:
            self._finish_stage()  # a new stage means the one before it ended well
            self._task = self._progress.add_task(stage, total=total)

    def advance(self, items: int) -> None:
        with self._lock:
            if self._task is not None:
                self._progress.advance(self._task, items)

    def _finish_stage(self) -> None:
        """The stage's count is now its total: an estimate (a table's ItemCount) gives way to the truth."""
        if self._task is not None:
            task = self._progress.tasks[self._task]
            self._progress.update(self._task, total=task.completed)
            self._progress.stop_task(self._task)


def backups_table(rows: list[dict[str, Any]], stream: TextIO) -> None:
    """`list` for a person: the same rows as its JSON, newest first, sizes in kB/MB/GB."""
    console = Console(file=stream)
    if not rows:
        console.print("no backups found")
        return
    table = Table(box=None, header_style="bold")
    for name, justify in (("finished", "left"), ("items", "right"), ("size", "right"), ("files", "right")):
        table.add_column(name, justify=justify, no_wrap=True)  # type: ignore[arg-type]
    table.add_column("label", no_wrap=True)
    table.add_column("backup", overflow="fold")
    for row in rows:
        if row["status"] == "complete":
            table.add_row(
                _when(str(row["finished_at"])),
                f"{row['items']:,}",
                decimal(row["compressed_bytes"]),
                str(row["files"]),
                _label(row),
                Text(row["backup"]),
            )
        else:
            where = Text(row["backup"])
            where.append(f"\n{row['problem']}", style="red")
            table.add_row("unreadable", "", "", "", "", where)
    console.print(table)


def _label(row: dict[str, Any]) -> str:
    """`before-pipeline-v4 (until 2027-12-01)`, or nothing for a backup without a label."""
    label = row.get("label") or ""
    until = row.get("retain_until")
    if until:
        label = f"{label} (until {_when(str(until))[:10]})"
    return label


_OUTCOME_STYLE = {"kept": "green", "deleted": "red", "would delete": "yellow", "failed": "bold red"}


def prune_table(answer: dict[str, Any], stream: TextIO) -> None:
    """`prune` for a person: the policy, each folder newest first with KEEP or PRUNE and why, the sum."""
    console = Console(file=stream)
    rows = answer["backups"]
    policy = ", ".join(f"{k} {v}" for k, v in answer["policy"].items())
    where = rows[0]["backup"].rstrip("/").rpartition("/")[0] + "/" if rows else ""
    console.print(f"{where} as at {_when(answer['now'])}: {policy}", markup=False, highlight=False)
    table = Table(box=None, header_style="bold")
    for name in ("backup", "finished", "", "why"):
        table.add_column(name, no_wrap=name != "why", overflow="fold")
    for row in rows:
        finished = _when(str(row["finished_at"])) if row["finished_at"] else row["status"]
        action = Text(row["action"].upper(), style=_OUTCOME_STYLE.get(row["outcome"], ""))
        name = row["backup"].rstrip("/").rpartition("/")[2]
        table.add_row(name, finished, action, "; ".join(row["reasons"]))
    console.print(table)
    verb = "would delete" if answer["dry_run"] else "deleted"
    console.print(
        f"{verb} {_count_of(answer)}, kept {answer['kept']}"
        + (f", {len(answer['locked'])} locked" if answer["locked"] else "")
        + (f", {len(answer['failed'])} failed" if answer["failed"] else ""),
        markup=False,
        highlight=False,
    )


def _count_of(answer: dict[str, Any]) -> int:
    if answer["dry_run"]:
        return sum(1 for row in answer["backups"] if row["action"] == "prune")
    return len(answer["deleted"])
