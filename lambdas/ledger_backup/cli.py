"""`python -m ledger_backup backup|restore|verify|list`: the same core the Lambdas run, from a shell.

Locations are `s3://bucket/prefix-or-key` or local paths, so the runbook's file workflow
keeps working: `backup ledger --to ./data`, then `restore ./data/ledger/<timestamp> --table ...`.
Restore and verify also take the runbook's old scan files and DynamoDB exports.
"""

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from ledger_backup.aws.clients import dynamodb_client
from ledger_backup.backup.run import BackupOptions, run_backup
from ledger_backup.backup.scan_json_writer import write_scan_json
from ledger_backup.catalog import survey
from ledger_backup.contract import DEFAULT_BACKUP_PREFIX, DEFAULT_RESTORE_WRITERS, DEFAULT_SCAN_SEGMENTS
from ledger_backup.errors import InvalidRequest, LedgerBackupError
from ledger_backup.restore.journal import RestoreJournal
from ledger_backup.restore.run import RestoreOptions, resolve_schema, resume_restore, start_restore
from ledger_backup.restore.verify import DryRunReport, compare_with_table, verify_source
from ledger_backup.schema import TableSchema, key_from_text, key_schema_from_json
from ledger_backup.sources import Source, open_latest, open_source
from ledger_backup.storage.locations import backup_source, file_destination, parse_location
from ledger_backup.storage.stores import BackupStore

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

LEDGER_FORMAT = "ledger-backup"
SCAN_JSON_FORMAT = "scan-json"


def _print(document: dict[str, Any] | list[dict[str, Any]]) -> None:
    json.dump(document, sys.stdout, indent=2)
    sys.stdout.write("\n")


def _store_prefix(text: str) -> tuple[BackupStore, str]:
    """A destination: `s3://bucket` alone means the service's default prefix."""
    location = parse_location(text)
    prefix = location.key
    if text.startswith("s3://") and not prefix:
        prefix = DEFAULT_BACKUP_PREFIX  # what `s3://bucket` alone means, as for the functions
    return location.store, prefix


def _open(args: argparse.Namespace) -> Source:
    """The source a restore or verify names: a location, or the newest backup of --latest-of."""
    if args.latest_of:
        store, prefix = _store_prefix(args.source)
        return open_latest(store, prefix, args.latest_of)
    location = backup_source(args.source)
    return open_source(location.store, location.key)


def _key_schema(args: argparse.Namespace) -> TableSchema | None:
    if args.hash_key is None:
        if args.range_key is not None:
            raise InvalidRequest("--range-key needs --hash-key")
        return None
    entries = [key_from_text(args.hash_key, "HASH")]
    if args.range_key is not None:
        entries.append(key_from_text(args.range_key, "RANGE"))
    return key_schema_from_json(entries)


def cmd_backup(args: argparse.Namespace) -> None:
    dynamodb = dynamodb_client(args.segments * 2)
    if args.format == SCAN_JSON_FORMAT:
        destination = file_destination(args.to)
        written = write_scan_json(dynamodb, destination.store, destination.key, args.table)
        _print({"status": "complete", "format": SCAN_JSON_FORMAT, **asdict(written)})
        return
    store, prefix = _store_prefix(args.to)
    options = BackupOptions(total_segments=args.segments, max_items_per_second=args.max_items_per_second)
    _print(run_backup(dynamodb, store, args.table, prefix=prefix, options=options).to_json())


def cmd_restore(args: argparse.Namespace) -> None:
    options = RestoreOptions(
        create_table=not args.no_create_table,
        overwrite=args.overwrite,
        writers=args.writers,
        key_schema=_key_schema(args),
        max_items_per_second=args.max_items_per_second,
        checkpoint_seconds=args.checkpoint_every,
    )
    dynamodb = dynamodb_client(args.writers * 2)
    journal = None if args.journal is None else _journal(args.journal)
    _print(start_restore(dynamodb, _open(args), args.table, options=options, journal=journal).to_json())


def _journal(location: str) -> RestoreJournal:
    store, prefix = _store_prefix(location)
    return RestoreJournal(store, prefix)


def cmd_resume(args: argparse.Namespace) -> None:
    journal = _journal(args.location)
    options = RestoreOptions(
        writers=args.writers,
        max_items_per_second=args.max_items_per_second,
        checkpoint_seconds=args.checkpoint_every,
    )
    checkpoint = journal.latest_checkpoint(args.restore_id)
    _print(resume_restore(dynamodb_client(args.writers * 2), journal, checkpoint, options=options).to_json())


def cmd_restore_status(args: argparse.Namespace) -> None:
    _print(_journal(args.location).status(args.restore_id).to_json())


def cmd_verify(args: argparse.Namespace) -> int:
    source = _open(args)
    schema = source.schema or _key_schema(args)
    if args.against:
        dynamodb = dynamodb_client()
        if schema is None:  # check the keys against the table's own schema
            schema = _table_schema(dynamodb, source, args.against)
        report, comparison = compare_with_table(dynamodb, source, args.against, schema)
    else:
        report, comparison = verify_source(source, schema), None
    _print(DryRunReport(report, against=comparison).to_json())
    if not report.ok:
        print(f"error: {report.failure()}", file=sys.stderr)
        return 2
    if comparison is not None and not comparison.match:
        print(f"error: {comparison.failure()}", file=sys.stderr)
        return 2
    return 0


def _table_schema(dynamodb: "DynamoDBClient", source: Source, table_name: str) -> TableSchema | None:
    """The existing table's key schema, or None when there is none (the comparison then says why)."""
    try:
        return resolve_schema(dynamodb, source, table_name, None).schema
    except InvalidRequest:  # the table does not exist: compare_with_table names it
        return None


def cmd_list(args: argparse.Namespace) -> None:
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
        }
        for b in catalog.backups
    ]
    rows += [  # named, not fatal: one bad manifest must not hide the others
        {"backup": store.location(u.manifest_key), "status": "unreadable", "problem": u.problem}
        for u in catalog.unreadable
    ]
    _print(rows)


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, not {text}")
    return value


def _add_rate_argument(command: argparse.ArgumentParser, what: str) -> None:
    command.add_argument(
        "--max-items-per-second",
        type=_positive,
        metavar="N",
        help=f"{what} at most N items per second, leaving capacity to the table's other users",
    )


def _add_writers_argument(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--writers",
        type=_positive,
        default=DEFAULT_RESTORE_WRITERS,
        help=f"writer threads (default {DEFAULT_RESTORE_WRITERS})",
    )


def _add_checkpoint_argument(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--checkpoint-every",
        type=float,
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
    command.add_argument("--latest-of", metavar="TABLE", help="use the newest complete backup of TABLE")
    command.add_argument(
        "--hash-key", metavar="NAME:TYPE", help="key schema for a source that records none, e.g. book_id:S"
    )
    command.add_argument("--range-key", metavar="NAME:TYPE", help="sort key, with --hash-key")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m ledger_backup", description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress to stderr")
    commands = parser.add_subparsers(dest="command", required=True)

    backup = commands.add_parser("backup", help="back a table up to S3 or a local folder")
    backup.add_argument("table")
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
        type=_positive,
        default=DEFAULT_SCAN_SEGMENTS,
        help=f"parallel scan segments (default {DEFAULT_SCAN_SEGMENTS})",
    )
    _add_rate_argument(backup, "read")
    backup.set_defaults(run=cmd_backup)

    restore = commands.add_parser("restore", help="restore a backup of any kind into a table")
    _add_source_arguments(restore)
    restore.add_argument("--table", required=True, help="target table (created from the backup if missing)")
    restore.add_argument("--no-create-table", action="store_true", help="fail if the target does not exist")
    restore.add_argument("--overwrite", action="store_true", help="allow a target that already holds items")
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
        "--against", metavar="TABLE", help="also check that TABLE holds exactly the backup's items"
    )
    verify.set_defaults(run=cmd_verify)

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
    listing.add_argument("table")
    listing.add_argument(
        "--in", dest="location", required=True, help="s3://bucket[/prefix] or a local folder"
    )
    listing.set_defaults(run=cmd_list)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, stream=sys.stderr)
    try:
        status = args.run(args)
    except LedgerBackupError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return status if isinstance(status, int) else 0
