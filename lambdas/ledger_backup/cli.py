"""`python -m ledger_backup backup|restore|verify|diff|list`: the same core the Lambdas run, from a shell.

Locations are `s3://bucket/prefix-or-key` or local paths, so the runbook's file workflow
keeps working: `backup ledger --to ./data`, then `restore ./data/ledger/<timestamp> --table ...`.
Restore and verify also take the runbook's old scan files and DynamoDB exports.
"""

import argparse
import errno
import json
import logging
import math
import os
import signal
import sys
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any, NoReturn

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
    PartialCredentialsError,
)

from ledger_backup.aws.clients import dynamodb_client, s3_client
from ledger_backup.aws.errors import error_code
from ledger_backup.aws.tables import require_table
from ledger_backup.backup.run import BackupLabel, BackupOptions, run_backup
from ledger_backup.backup.scan_json_writer import write_scan_json
from ledger_backup.catalog import survey
from ledger_backup.contract import (
    DEFAULT_BACKUP_PREFIX,
    DEFAULT_KEEP_LAST,
    DEFAULT_RESTORE_WRITERS,
    DEFAULT_SCAN_SEGMENTS,
)
from ledger_backup.copying import copy_backup, copy_latest
from ledger_backup.errors import InvalidRequest, LedgerBackupError
from ledger_backup.interpreter import prefer_io_threads
from ledger_backup.names import check_label, check_table_name
from ledger_backup.pruning import prune
from ledger_backup.restore.journal import RestoreJournal
from ledger_backup.restore.modes import MODES
from ledger_backup.restore.plan import StoredReport
from ledger_backup.restore.run import (
    KeysFile,
    RestoreOptions,
    dry_run,
    read_keys_file,
    resolve_schema,
    resume_restore,
    start_restore,
)
from ledger_backup.restore.verify import DryRunReport, compare_with_table, verify_source
from ledger_backup.retention import MAX_KEEP, MAX_RETAIN_DAYS, RetentionPolicy
from ledger_backup.schema import TableSchema, key_from_text, key_schema_from_json
from ledger_backup.sources import Source, open_latest, open_source
from ledger_backup.sources.aws_export import SUMMARY_NAME
from ledger_backup.sources.chain import ALL_INCREMENTALS, open_source_chain
from ledger_backup.storage.locations import (
    S3_SCHEME,
    backup_source,
    file_destination,
    folder_location,
    split_s3,
)
from ledger_backup.storage.stores import BackupStore, LocalStore, S3Store
from ledger_backup.terminal import ProgressBar, backups_table, prune_table

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

LEDGER_FORMAT = "ledger-backup"
SCAN_JSON_FORMAT = "scan-json"
EXIT_FAILURE = 2  # every failure: a usage mistake, a refused request, an AWS error, a failed verify
# The CLI's bounds: past them a number is a typo, not tuning (each segment and writer is a thread).
MAX_SCAN_SEGMENTS = 1000
MAX_WRITERS = 100
MAX_ITEMS_PER_SECOND = 1_000_000  # as the restore function's request allows
MAX_CHECKPOINT_SECONDS = 86_400.0


def _print(document: dict[str, Any] | list[dict[str, Any]]) -> None:
    """The command's one JSON document, flushed here so a closed pipe is reported like any failure."""
    json.dump(document, sys.stdout, indent=2)
    sys.stdout.write("\n")
    sys.stdout.flush()


def _store_prefix(text: str, *, must_exist: bool = True) -> tuple[BackupStore, str]:
    """A folder of backups: `s3://bucket` alone means the service's default prefix.

    `must_exist` for one that is read: a local folder that is not there is a typo.
    """
    location = folder_location(text, must_exist=must_exist)
    prefix = location.key
    if text.startswith("s3://") and not prefix:
        prefix = DEFAULT_BACKUP_PREFIX  # what `s3://bucket` alone means, as for the functions
    return location.store, prefix


def _open(args: argparse.Namespace) -> Source:
    """The source a restore or verify names: a location, or the newest backup of --latest-of."""
    incrementals, until = getattr(args, "incremental", None) or [], getattr(args, "until", None) or ""
    if args.latest_of:
        if incrementals:
            raise InvalidRequest(
                "--incremental follows a full export: give its manifest-summary.json, not --latest-of"
            )
        store, prefix = _store_prefix(args.source)
        return open_latest(store, prefix, args.latest_of)
    if incrementals == [ALL_INCREMENTALS]:  # the links this tool's export backup records
        location = backup_source(args.source)
        return open_source_chain(location.store, location.key, ALL_INCREMENTALS, until)
    if incrementals:
        store, full_key, keys = _chain_locations(args.source, incrementals)
        return open_source_chain(store, full_key, keys, until)
    if until:
        raise InvalidRequest(
            "--until needs --incremental: it picks a moment inside a chain of incremental exports"
        )
    location = backup_source(args.source)
    return open_source(location.store, location.key)


def _chain_locations(source: str, incrementals: list[str]) -> tuple[BackupStore, str, list[str]]:
    """One store holding a full export and its incrementals, and their keys in it.

    In S3 all must be in one bucket. Local exports are read from the folder above their AWSDynamoDB/
    folders, since an incremental's data files sit in AWSDynamoDB/data/, beside its own folder.
    """
    texts = [source, *incrementals]
    if any(text.startswith(S3_SCHEME) for text in texts):
        if not all(text.startswith(S3_SCHEME) for text in texts):
            raise InvalidRequest("give the full export and every --incremental in S3, or all as local paths")
        locations = [split_s3(text) for text in texts]
        buckets = {bucket for bucket, _ in locations}
        if len(buckets) > 1:
            raise InvalidRequest(
                f"the full export and its incrementals are in {len(buckets)} buckets "
                f"({', '.join(sorted(buckets))}): a chain is read from one bucket"
            )
        keys = [key for _, key in locations]
        return S3Store(s3_client(), locations[0][0]), keys[0], keys[1:]
    summaries = [_summary_path(text) for text in texts]
    # <root>/.../AWSDynamoDB/<ExportId>/manifest-summary.json: the root holds each AWSDynamoDB/ folder
    root = Path(os.path.commonpath([path.parents[2] for path in summaries]))
    keys = [path.relative_to(root).as_posix() for path in summaries]
    return LocalStore(root), keys[0], keys[1:]


def _summary_path(text: str) -> Path:
    path = Path(text).expanduser().resolve()
    summary = path if path.name == SUMMARY_NAME else path / SUMMARY_NAME
    if not summary.is_file() or len(summary.parents) < 3:
        raise InvalidRequest(f"no {SUMMARY_NAME} at {text!r}: give an export's folder or its {SUMMARY_NAME}")
    return summary


def _key_schema(args: argparse.Namespace) -> TableSchema | None:
    """--hash-key/--range-key (already parsed into key entries) as a schema, or None."""
    if args.hash_key is None:
        if args.range_key is not None:
            raise InvalidRequest(
                "--range-key needs --hash-key: give both, e.g. --hash-key pk:S --range-key sk:N"
            )
        return None
    entries = [args.hash_key] if args.range_key is None else [args.hash_key, args.range_key]
    return key_schema_from_json(entries)


def _showing(bar: ProgressBar | None) -> AbstractContextManager[object]:
    """The bar drawn while the block runs, and gone (its last state left) before the JSON is printed."""
    return bar if bar is not None else nullcontext()


def cmd_backup(args: argparse.Namespace, bar: ProgressBar | None) -> None:
    dynamodb = dynamodb_client(args.segments * 2)
    if args.format == SCAN_JSON_FORMAT:
        if args.label is not None or args.retain_days is not None:
            raise InvalidRequest(
                "--label and --retain-days are recorded in a backup's manifest: a scan-json file has "
                "none; drop them or back up in the ledger-backup format"
            )
        destination = file_destination(args.to)
        with _showing(bar):
            written = write_scan_json(
                dynamodb, destination.store, destination.key, args.table, on_progress=bar
            )
        _print({"status": "complete", "format": SCAN_JSON_FORMAT, **asdict(written)})
        return
    store, prefix = _store_prefix(args.to, must_exist=False)
    options = BackupOptions(total_segments=args.segments, max_items_per_second=args.max_items_per_second)
    label = _backup_label(args)
    with _showing(bar):
        result = run_backup(
            dynamodb, store, args.table, prefix=prefix, options=options, on_progress=bar, label=label
        )
    _print(result.to_json())


def _backup_label(args: argparse.Namespace) -> BackupLabel | None:
    """--label [--retain-days N]: a named backup, kept by the retention policy for N days."""
    if args.label is None:
        if args.retain_days is not None:
            raise InvalidRequest(
                "--retain-days needs --label: name why this backup is kept, e.g. --label before-pipeline-v4"
            )
        return None
    return BackupLabel(args.label, args.retain_days)


def cmd_restore(args: argparse.Namespace, bar: ProgressBar | None) -> None:
    key_schema = _key_schema(args)
    journal = None if args.journal is None else _journal(args.journal, must_exist=False)
    source = _open(args)
    options = RestoreOptions(
        create_table=not args.no_create_table,
        overwrite=args.overwrite,
        writers=args.writers,
        key_schema=key_schema,
        max_items_per_second=args.max_items_per_second,
        checkpoint_seconds=args.checkpoint_every,
        mode=args.mode or "",
        keys_file=_keys_file(args.keys),
    )
    dynamodb = dynamodb_client(args.writers * 2)
    with _showing(bar):
        result = start_restore(
            dynamodb, source, args.table, options=options, journal=journal, on_progress=bar
        )
    _print(result.to_json())


def _keys_file(text: str | None) -> KeysFile | None:
    """--keys: a JSON-lines file of keys (s3://bucket/key or a path), e.g. a `diff --out` report."""
    if text is None:
        return None
    location = backup_source(text)
    return read_keys_file(location.store, location.key)


def cmd_diff(args: argparse.Namespace, bar: ProgressBar | None) -> int:
    """A plan: what a restore of SOURCE would change in TABLE, key by key; the report with --out."""
    source = _open(args)
    options = RestoreOptions(key_schema=_key_schema(args), keys_file=_keys_file(args.keys))
    dynamodb = dynamodb_client()
    require_table(dynamodb, args.against)  # a plan needs the table: say so before reading the backup
    report = None
    if args.out is not None:
        destination = file_destination(args.out)
        report = StoredReport(destination.store, destination.key)
    with _showing(bar):
        answer = dry_run(
            dynamodb,
            source,
            args.against,
            options.key_schema,
            options=options,
            report=report,
            on_progress=bar,
        )
    _print(answer.to_json())
    if not answer.ok:
        return _fail(answer.report.failure())
    return 0


def _journal(location: str, *, must_exist: bool = True) -> RestoreJournal:
    store, prefix = _store_prefix(location, must_exist=must_exist)
    return RestoreJournal(store, prefix)


def cmd_resume(args: argparse.Namespace, bar: ProgressBar | None) -> None:
    journal = _journal(args.location)
    options = RestoreOptions(
        writers=args.writers,
        max_items_per_second=args.max_items_per_second,
        checkpoint_seconds=args.checkpoint_every,
    )
    checkpoint = journal.latest_checkpoint(args.restore_id)
    dynamodb = dynamodb_client(args.writers * 2)
    with _showing(bar):
        result = resume_restore(dynamodb, journal, checkpoint, options=options, on_progress=bar)
    _print(result.to_json())


def cmd_restore_status(args: argparse.Namespace, _bar: ProgressBar | None) -> None:
    _print(_journal(args.location).status(args.restore_id).to_json())


def cmd_verify(args: argparse.Namespace, bar: ProgressBar | None) -> int:
    key_schema = _key_schema(args)
    source = _open(args)
    schema = source.schema or key_schema
    if args.against:
        dynamodb = dynamodb_client()
        if schema is None:  # check the keys against the table's own schema
            schema = _table_schema(dynamodb, source, args.against)
        with _showing(bar):
            report, comparison = compare_with_table(dynamodb, source, args.against, schema, on_progress=bar)
    else:
        with _showing(bar):
            report, comparison = verify_source(source, schema, on_progress=bar), None
    _print(DryRunReport(report, against=comparison).to_json())
    if not report.ok:
        return _fail(report.failure())
    if comparison is not None and not comparison.match:
        return _fail(comparison.failure())
    return 0


def _table_schema(dynamodb: "DynamoDBClient", source: Source, table_name: str) -> TableSchema | None:
    """The existing table's key schema, or None when there is none (the comparison then says why)."""
    try:
        return resolve_schema(dynamodb, source, table_name, None).schema
    except InvalidRequest:  # the table does not exist: compare_with_table names it
        return None


def cmd_list(args: argparse.Namespace, _bar: ProgressBar | None) -> None:
    """A table on a terminal; the JSON rows with --json or when stdout is a pipe or a file."""
    store, prefix = _store_prefix(args.location)
    catalog = survey(store, prefix, args.table)
    rows: list[dict[str, Any]] = [
        {
            "backup": store.location(b.manifest_key),
            "status": "complete",
            "started_at": b.manifest.started_at,
            "finished_at": b.manifest.finished_at,
            "items": b.manifest.item_count,
            "compressed_bytes": b.manifest.compressed_bytes,
            "uncompressed_bytes": b.manifest.uncompressed_bytes,
            "files": len(b.manifest.files),
            "label": b.manifest.label,
            "retain_until": b.manifest.retain_until,
        }
        for b in catalog.backups
    ]
    rows += [  # named, not fatal: one bad manifest must not hide the others
        {"backup": store.location(u.manifest_key), "status": "unreadable", "problem": u.problem}
        for u in catalog.unreadable
    ]
    if args.json or not sys.stdout.isatty():
        _print(rows)
    else:
        backups_table(rows, sys.stdout)


def cmd_copy(args: argparse.Namespace, bar: ProgressBar | None) -> None:
    """One backup (or the newest of --latest-of) to a folder or bucket, verified there; manifest last."""
    to_store, to_prefix = _store_prefix(args.to, must_exist=False)
    with _showing(bar):
        if args.latest_of:
            store, prefix = _store_prefix(args.source)
            result = copy_latest(store, prefix, args.latest_of, to_store, to_prefix, on_progress=bar)
        else:
            location = backup_source(args.source)
            result = copy_backup(location.store, location.key, to_store, to_prefix, on_progress=bar)
    if args.json or not sys.stdout.isatty():
        _print(result.to_json())
        return
    done = "copied" if result.status == "copied" else "already held this backup:"
    print(
        f"{done} {result.files} files, {result.bytes:,} bytes, {result.items:,} items to "
        f"{result.destination}; every file's sha256 and size verified at the destination",
        flush=True,
    )


def cmd_prune(args: argparse.Namespace, _bar: ProgressBar | None) -> int:
    """Every backup folder with KEEP or PRUNE and why; deletes the PRUNE ones unless --dry-run."""
    store, prefix = _store_prefix(args.location)
    policy = RetentionPolicy(
        keep_last=args.keep_last,
        keep_daily=args.keep_daily,
        keep_weekly=args.keep_weekly,
        keep_monthly=args.keep_monthly,
    )
    now = args.now or datetime.now(UTC)
    result = prune(store, prefix, args.table, policy, now, dry_run=args.dry_run)
    if args.json or not sys.stdout.isatty():
        _print(result.to_json(store))
    else:
        prune_table(result.to_json(store), sys.stdout)
    if result.failed:
        return _fail(
            f"{len(result.failed)} backup(s) could not be pruned: "
            + "; ".join(f"{store.location(f.folder)}: {f.problem}" for f in result.failed)
        )
    return 0


def _moment(text: str) -> datetime:
    """An argparse type: an ISO 8601 time; one without a zone is UTC (as backups record theirs)."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"must be an ISO 8601 time such as 2026-12-04T06:00:00Z, not {text!r}"
        ) from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _label(text: str) -> str:
    """An argparse type: a backup label (names.LABEL_PATTERN)."""
    try:
        return check_label(text)
    except InvalidRequest as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def _add_retention_arguments(command: argparse.ArgumentParser) -> None:
    """The policy's four numbers (README "Retention"), with the function's defaults."""
    command.add_argument(
        "--keep-last",
        type=_whole_number(1, MAX_KEEP),
        default=DEFAULT_KEEP_LAST,
        metavar="N",
        help=f"never prune the newest N complete backups, however old (default {DEFAULT_KEEP_LAST})",
    )
    for period, what in (("daily", "day"), ("weekly", "ISO week"), ("monthly", "month")):
        command.add_argument(
            f"--keep-{period}",
            type=_whole_number(0, MAX_KEEP),
            default=0,
            metavar="N",
            help=f"keep the first backup of each of the last N {what}s, UTC (default 0: none)",
        )


def _add_label_arguments(command: argparse.ArgumentParser) -> None:
    """backup --label/--retain-days: a backup "before major changes" (README "Retention")."""
    command.add_argument(
        "--label",
        type=_label,
        help="name the backup in its manifest, e.g. before-pipeline-v4 (lowercase letters, digits, . _ -)",
    )
    command.add_argument(
        "--retain-days",
        type=_whole_number(1, MAX_RETAIN_DAYS),
        metavar="N",
        help=f"with --label: pruning keeps this backup for N days, 1-{MAX_RETAIN_DAYS}",
    )


def _add_prune_command(commands: Any) -> None:
    """`prune LOCATION --table T` with the policy's numbers, --dry-run, --now and --json."""
    pruning: argparse.ArgumentParser = commands.add_parser(
        "prune", help="delete the backups the retention policy lets go (--dry-run: only say which and why)"
    )
    pruning.add_argument("location", help="s3://bucket[/prefix] or the local folder holding the backups")
    pruning.add_argument("--table", required=True, type=_table_name, help="whose backups to prune")
    _add_retention_arguments(pruning)
    pruning.add_argument("--dry-run", action="store_true", help="delete nothing: list what would go and why")
    pruning.add_argument(
        "--now",
        type=_moment,
        metavar="TIME",
        help="judge the backups' ages as at TIME (ISO 8601, UTC without a zone) instead of the clock",
    )
    pruning.add_argument(
        "--json", action="store_true", help="print JSON even on a terminal (it always does into a pipe)"
    )
    pruning.set_defaults(run=cmd_prune)
    _add_common_flags(pruning, default=argparse.SUPPRESS)


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage mistake is one `error: ...` line (exit 2) like every other failure."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_FAILURE, f"error: {_one_line(message)} (see `{self.prog} --help`)\n")


def _whole_number(low: int, high: int) -> Callable[[str], int]:
    """An argparse type: an integer from `low` to `high`, else a message that gives the range."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = low - 1
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be a whole number from {low} to {high:,}, not {text!r}")
        return value

    return parse


def _seconds(text: str) -> float:
    """An argparse type: a number of seconds from 0 to a day."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not 0 <= value <= MAX_CHECKPOINT_SECONDS:  # also refuses nan and inf
        raise argparse.ArgumentTypeError(
            f"must be a number of seconds from 0 to {MAX_CHECKPOINT_SECONDS:,.0f}, not {text!r}"
        )
    return value


def _table_name(text: str) -> str:
    """An argparse type: a name DynamoDB accepts, checked before any call is made."""
    try:
        return check_table_name(text)
    except InvalidRequest as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def _key_attribute(key_type: str) -> Callable[[str], dict[str, str]]:
    """An argparse type: `NAME:TYPE` as a key schema entry of `key_type` (HASH or RANGE)."""

    def parse(text: str) -> dict[str, str]:
        try:
            return key_from_text(text, key_type)
        except InvalidRequest as exc:
            raise argparse.ArgumentTypeError(str(exc)) from exc

    return parse


def _add_rate_argument(command: argparse.ArgumentParser, what: str) -> None:
    command.add_argument(
        "--max-items-per-second",
        type=_whole_number(1, MAX_ITEMS_PER_SECOND),
        metavar="N",
        help=f"{what} at most N items per second, leaving capacity to the table's other users",
    )


def _add_writers_argument(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--writers",
        type=_whole_number(1, MAX_WRITERS),
        default=DEFAULT_RESTORE_WRITERS,
        help=f"writer threads, 1-{MAX_WRITERS} (default {DEFAULT_RESTORE_WRITERS})",
    )


def _add_checkpoint_argument(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--checkpoint-every",
        type=_seconds,
        default=60.0,
        metavar="SECONDS",
        help="with a journal: checkpoint at least this often (default 60)",
    )


def _add_source_arguments(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "source",
        help="a backup folder or its manifest.json, a scan-json file (plain or .gz), or an export's "
        "manifest-summary.json; s3://bucket/key or a local path. With --latest-of: s3://bucket[/prefix] "
        "or the local folder holding the backups",
    )
    command.add_argument(
        "--latest-of", metavar="TABLE", type=_table_name, help="use the newest complete backup of TABLE"
    )
    command.add_argument(
        "--incremental",
        metavar="EXPORT",
        action="append",
        help="an incremental export (its folder or manifest-summary.json) applied after SOURCE, a "
        "DynamoDB full export; repeat in order, one per export of the chain; `all`: every incremental "
        "this tool's export backup SOURCE records",
    )
    command.add_argument(
        "--until",
        metavar="TIME",
        help="with --incremental: apply the changes written up to this ISO 8601 time, "
        "e.g. 2026-12-04T09:30:00Z",
    )
    command.add_argument(
        "--hash-key",
        metavar="NAME:TYPE",
        type=_key_attribute("HASH"),
        help="key schema for a source that records none, e.g. book_id:S",
    )
    command.add_argument(
        "--range-key", metavar="NAME:TYPE", type=_key_attribute("RANGE"), help="sort key, with --hash-key"
    )


def _add_keys_argument(command: argparse.ArgumentParser, what: str) -> None:
    command.add_argument(
        "--keys",
        metavar="FILE",
        help=f"{what}: a JSON-lines file (a path or s3://bucket/key) of key objects in DynamoDB JSON, "
        "or a diff report",
    )


def _add_common_flags(parser: argparse.ArgumentParser, default: Any) -> None:
    """-v, -q and --debug, before or after the command; a command's own copy leaves an unset flag alone."""
    parser.add_argument(
        "-v", "--verbose", action="store_true", default=default, help="log progress to stderr"
    )
    parser.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        default=default,
        help="no progress bar (one is drawn on stderr when it is a terminal)",
    )
    parser.add_argument(
        "--debug",
        action="store_true",
        default=default,
        help="on a failure, show Python's traceback instead of the one-line error",
    )


INSTALLED_COMMAND = "ledger-backup"  # pyproject.toml's [project.scripts]


def _program_name() -> str:
    """`ledger-backup` when run as the installed command, else `python -m ledger_backup`."""
    installed = bool(sys.argv) and os.path.basename(sys.argv[0]) == INSTALLED_COMMAND
    return INSTALLED_COMMAND if installed else "python -m ledger_backup"


def _add_copy_command(commands: Any) -> None:
    """`copy SOURCE --to DEST`, or `copy --latest-of TABLE FROM --to DEST`, with --json."""
    copying: argparse.ArgumentParser = commands.add_parser(
        "copy",
        help="copy one backup to a local folder or another bucket, every checksum verified there",
    )
    copying.add_argument(
        "source",
        help="a backup folder or its manifest.json (s3://bucket/key or a local path); with --latest-of: "
        "s3://bucket[/prefix] or the local folder holding the backups",
    )
    copying.add_argument(
        "--latest-of", metavar="TABLE", type=_table_name, help="copy the newest complete backup of TABLE"
    )
    copying.add_argument(
        "--to",
        required=True,
        metavar="DEST",
        help="s3://bucket[/prefix] or a local folder; the copy lands in <prefix><table>/<backup folder>/",
    )
    copying.add_argument(
        "--json", action="store_true", help="print JSON even on a terminal (it always does into a pipe)"
    )
    copying.set_defaults(run=cmd_copy)
    _add_common_flags(copying, default=argparse.SUPPRESS)


def build_parser() -> argparse.ArgumentParser:  # noqa: PLR0915 - every command in one readable place
    parser = _Parser(
        prog=_program_name(),
        description=__doc__.splitlines()[0],
        epilog="Exit status: 0 on success, 2 on any failure (one `error: ...` line on stderr).",
    )
    _add_common_flags(parser, default=False)
    commands = parser.add_subparsers(dest="command", required=True)

    backup = commands.add_parser("backup", help="back a table up to S3 or a local folder")
    backup.add_argument("table", type=_table_name)
    backup.add_argument(
        "--to",
        required=True,
        help="s3://bucket[/prefix] or a local folder; with --format scan-json a file (s3://bucket/key or "
        "a path; a .gz name is gzipped)",
    )
    backup.add_argument(
        "--format",
        choices=(LEDGER_FORMAT, SCAN_JSON_FORMAT),
        default=LEDGER_FORMAT,
        help="ledger-backup (default: checksummed folder) or scan-json (the runbook's single JSON file)",
    )
    backup.add_argument(
        "--segments",
        type=_whole_number(1, MAX_SCAN_SEGMENTS),
        default=DEFAULT_SCAN_SEGMENTS,
        help=f"parallel scan segments, 1-{MAX_SCAN_SEGMENTS} (default {DEFAULT_SCAN_SEGMENTS})",
    )
    _add_rate_argument(backup, "read")
    _add_label_arguments(backup)
    backup.set_defaults(run=cmd_backup)

    restore = commands.add_parser("restore", help="restore a backup of any kind into a table")
    _add_source_arguments(restore)
    restore.add_argument(
        "--table", required=True, type=_table_name, help="target table (created from the backup if missing)"
    )
    restore.add_argument("--no-create-table", action="store_true", help="fail if the target does not exist")
    restore.add_argument("--overwrite", action="store_true", help="allow a target that already holds items")
    restore.add_argument(
        "--mode",
        choices=MODES,
        help="upsert: put every item (needs --overwrite on a non-empty table); missing: only the items "
        "whose key the table lacks, never over an item; replace: upsert, then delete the keys the "
        "backup lacks (needs --overwrite)",
    )
    _add_keys_argument(restore, "restore only these keys")
    _add_writers_argument(restore)
    restore.add_argument(
        "--journal",
        metavar="LOCATION",
        help="checkpoint progress under LOCATION's restores/ (s3://bucket[/prefix] or a folder), "
        "so `resume` can finish the restore if this process dies",
    )
    _add_checkpoint_argument(restore)
    _add_rate_argument(restore, "write")
    restore.set_defaults(run=cmd_restore)

    verify = commands.add_parser(
        "verify", help="read a backup through, check every checksum and count, write nothing"
    )
    _add_source_arguments(verify)
    verify.add_argument(
        "--against",
        metavar="TABLE",
        type=_table_name,
        help="also check that TABLE holds exactly the backup's items",
    )
    verify.set_defaults(run=cmd_verify)

    diff = commands.add_parser(
        "diff", help="plan a restore: the keys a table lacks, has changed or has extra, against a backup"
    )
    _add_source_arguments(diff)
    diff.add_argument(
        "--against", metavar="TABLE", required=True, type=_table_name, help="the table to compare"
    )
    diff.add_argument(
        "--out",
        metavar="FILE",
        help="write the JSON-lines report (one line per missing, changed or extra key) to FILE "
        "(a path or s3://bucket/key); it can be given back as restore --keys",
    )
    _add_keys_argument(diff, "compare only these keys")
    diff.set_defaults(run=cmd_diff)

    resume = commands.add_parser("resume", help="finish a journaled restore from its last checkpoint")
    resume.add_argument("restore_id")
    resume.add_argument("--in", dest="location", required=True, help="the restore's --journal location")
    _add_writers_argument(resume)
    _add_checkpoint_argument(resume)
    _add_rate_argument(resume, "write")
    resume.set_defaults(run=cmd_resume)

    status = commands.add_parser("restore-status", help="a journaled restore's progress or result")
    status.add_argument("restore_id")
    status.add_argument("--in", dest="location", required=True, help="the restore's journal location")
    status.set_defaults(run=cmd_restore_status)

    listing = commands.add_parser("list", help="the complete backups of a table, newest first")
    listing.add_argument("table", type=_table_name)
    listing.add_argument(
        "--in", dest="location", required=True, help="s3://bucket[/prefix] or a local folder"
    )
    listing.add_argument(
        "--json", action="store_true", help="print JSON even on a terminal (it always does into a pipe)"
    )
    listing.set_defaults(run=cmd_list)

    _add_copy_command(commands)

    _add_prune_command(commands)

    for command in (backup, restore, verify, diff, resume, status, listing):
        _add_common_flags(command, default=argparse.SUPPRESS)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command: its JSON on stdout, or one `error: ...` line on stderr and exit status 2."""
    prefer_io_threads()
    args = build_parser().parse_args(argv)
    bar = None if args.quiet or not sys.stderr.isatty() else ProgressBar(sys.stderr)
    _configure_logging(verbose=args.verbose, debug=args.debug, bar=bar)
    if args.debug:  # a developer asked for Python's own report of any failure
        return _run(args, bar)
    previous = signal.signal(signal.SIGINT, _interrupted(args.command, bar))
    try:
        return _run(args, bar)
    except Exception as exc:  # every failure is one line; --debug shows the traceback
        if isinstance(exc, BrokenPipeError):
            _silence_stdout()
        return _fail(failure_message(exc))
    finally:
        signal.signal(signal.SIGINT, previous)  # a caller's own handler (a test runner's) comes back


class OneLineFormatter(logging.Formatter):
    """A log record as one `warning: ...` line, its exception's message without the traceback.

    A clean-up that fails after the real failure logs a warning with the exception attached;
    on a terminal that would be a traceback beside the `error:` line. --debug shows them whole.
    """

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        error = record.exc_info[1] if record.exc_info else None
        if isinstance(error, Exception):
            message = f"{message}: {failure_message(error)}"
        return f"{record.levelname.lower()}: {_one_line(message)}"


class _AboveTheBar(logging.Handler):
    """Log lines printed above a running progress bar (through its console), not into it."""

    def __init__(self, bar: ProgressBar) -> None:
        super().__init__()
        self._bar = bar

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self._bar.print_line(self.format(record))
        except Exception:
            self.handleError(record)


def _configure_logging(*, verbose: bool, debug: bool, bar: ProgressBar | None) -> None:
    handler = logging.StreamHandler(sys.stderr) if bar is None else _AboveTheBar(bar)
    if not debug:
        handler.setFormatter(OneLineFormatter())
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, handlers=[handler])


def _run(args: argparse.Namespace, bar: ProgressBar | None) -> int:
    status = args.run(args, bar)
    return status if isinstance(status, int) else 0


def _fail(message: str) -> int:
    print(f"error: {_one_line(message)}", file=sys.stderr, flush=True)
    return EXIT_FAILURE


def _one_line(message: str) -> str:
    return " ".join(message.split()) or "(no message)"


# What a Ctrl-C leaves behind, by command, so the user knows whether to run it again or resume.
_INTERRUPTED = {
    "backup": "the backup did not finish (an unfinished backup has no manifest and is never restored "
    "from); run it again",
    "restore": "the restore did not finish and the target may hold part of the backup; run the restore "
    "again (its message says what the target holds), or `resume` one started with --journal",
    "resume": "the restore did not finish; `resume` it again to go on from its last checkpoint",
    "prune": "the prune did not finish; a backup it was deleting has lost its manifest (never restored "
    "from) and the next prune finishes it; run it again",
    "copy": "the copy did not finish; its manifest is written last, so the destination holds no complete "
    "backup from it; run it again",
}


def _interrupted(command: str, bar: ProgressBar | None) -> Callable[[int, FrameType | None], None]:
    """A SIGINT handler: the bar stopped (the cursor shown again), one line, then exit at once.

    Worker threads (scan segments, batch writers) would keep the process alive while an
    exception unwound; what an exit mid-way leaves behind is what a crash leaves, which
    backups and journaled restores are built to survive.
    """
    what = _INTERRUPTED.get(command, "nothing was changed; run it again")

    def handle(_signum: int, _frame: FrameType | None) -> None:
        if bar is not None:
            bar.stop()
        _fail(f"interrupted: {what}")
        os._exit(EXIT_FAILURE)

    return handle


def _silence_stdout() -> None:
    """Point stdout at /dev/null, so the interpreter's own flush at exit does not fail a second time."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


def failure_message(exc: Exception) -> str:
    """The one line a failure is reported as: what went wrong and what to do, without a traceback."""
    if isinstance(exc, LedgerBackupError | ValueError):
        return str(exc)
    if isinstance(exc, ClientError):
        return _aws_message(exc)
    if isinstance(exc, BotoCoreError):
        return _botocore_message(exc)
    if isinstance(exc, OSError):
        return _os_message(exc)
    return f"unexpected {type(exc).__name__}: {exc} (run with --debug for the traceback)"


# AWS error codes a user can act on, and what to do about each.
_AWS_ADVICE = {
    "AccessDenied": "the credentials lack the permission: check their IAM policy and the bucket policy",
    "AccessDeniedException": "the credentials in use lack the permission: check their IAM policy",
    "403": "access denied: check the credentials' IAM policy and the bucket policy",
    "NoSuchBucket": "check the bucket name (and that it is in this account), or create the bucket",
    "ExpiredToken": "the session credentials expired: refresh them (e.g. `aws sso login`) and retry",
    "ExpiredTokenException": "the session credentials expired: refresh them (e.g. `aws sso login`) and retry",
    "UnrecognizedClientException": "the access key is not valid: check AWS_PROFILE or the access key",
    "InvalidAccessKeyId": "the access key is not valid: check AWS_PROFILE or the access key",
    "InvalidClientTokenId": "the access key is not valid: check AWS_PROFILE or the access key",
    "SignatureDoesNotMatch": "the secret key does not match the access key: check the credentials",
    "ResourceNotFoundException": "check the table name and the region (AWS_REGION)",
    "ProvisionedThroughputExceededException": "the table is throttled: retry later or lower "
    "--max-items-per-second",
    "ThrottlingException": "AWS is throttling the calls: retry later or lower --max-items-per-second",
    "RequestLimitExceeded": "AWS is throttling the calls: retry later or lower --max-items-per-second",
}


def _aws_message(exc: ClientError) -> str:
    code = error_code(exc)
    error = exc.response.get("Error", {})
    text = str(error.get("Message") or "") or code or "no message"
    bucket = error.get("BucketName")
    where = f" (bucket {bucket!r})" if bucket else ""
    advice = _AWS_ADVICE.get(code)
    return f"AWS {exc.operation_name} failed{where}: {code}: {text}" + (f"; {advice}" if advice else "")


def _botocore_message(exc: BotoCoreError) -> str:
    if isinstance(exc, NoCredentialsError | PartialCredentialsError):
        return (
            f"{exc}: set AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY "
            "(or run `aws configure` / `aws sso login`)"
        )
    if isinstance(exc, NoRegionError):
        return "no AWS region is set: set AWS_REGION (or a region in your AWS profile)"
    if isinstance(exc, EndpointConnectionError):
        return f"{exc}: check the network, AWS_REGION and any AWS_ENDPOINT_URL* setting, then retry"
    return f"AWS client error: {exc}"


def _os_message(exc: OSError) -> str:
    if isinstance(exc, BrokenPipeError) or exc.errno == errno.EPIPE:
        return (
            "stdout was closed before the JSON result was written (the command's work is done); "
            "read the whole output, e.g. redirect it to a file"
        )
    problem = exc.strerror or str(exc)
    where = " ".join(repr(str(f)) for f in (exc.filename, exc.filename2) if f is not None)
    if isinstance(exc, PermissionError):
        advice = "check the permissions or pick another path"
    elif isinstance(exc, NotADirectoryError | FileExistsError):
        advice = "a file stands where a folder is needed: pick another path"
    elif isinstance(exc, IsADirectoryError):
        advice = "a folder stands where a file is needed: give a file name"
    elif isinstance(exc, FileNotFoundError):
        advice = "check the path"
    else:
        advice = "check the path and the disk"
    return f"{problem}{': ' + where if where else ''}; {advice}"
