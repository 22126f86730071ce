"""`python -m ledger_backup backup|restore|verify|list`: the same core the Lambdas run, from a shell.

Locations are `s3://bucket/prefix-or-key` or local paths, so the runbook's file workflow
keeps working: `backup ledger --to ./data`, then `restore ./data/ledger/<timestamp> --table ...`.
"""

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

from ledger_backup.backup import BackupOptions, run_backup
from ledger_backup.catalog import list_backups, load_backup
from ledger_backup.clients import dynamodb_client
from ledger_backup.errors import LedgerBackupError
from ledger_backup.locations import backup_source, parse_location
from ledger_backup.restore import RestoreOptions, run_restore
from ledger_backup.verify import verify_backup

DEFAULT_S3_PREFIX = "backups/"


def _print(document: dict[str, Any] | list[dict[str, Any]]) -> None:
    json.dump(document, sys.stdout, indent=2)
    sys.stdout.write("\n")


def _store_prefix(text: str) -> tuple[Any, str]:
    """A destination: `s3://bucket` alone means the service's default prefix."""
    location = parse_location(text)
    prefix = location.key
    if text.startswith("s3://") and not prefix:
        prefix = DEFAULT_S3_PREFIX
    return location.store, prefix


def cmd_backup(args: argparse.Namespace) -> None:
    store, prefix = _store_prefix(args.to)
    options = BackupOptions(total_segments=args.segments)
    result = run_backup(dynamodb_client(args.segments * 2), store, args.table, prefix=prefix, options=options)
    _print({"status": "complete", **asdict(result)})


def cmd_restore(args: argparse.Namespace) -> None:
    source = backup_source(args.source)
    options = RestoreOptions(
        create_table=not args.no_create_table, overwrite=args.overwrite, writers=args.writers
    )
    result = run_restore(
        dynamodb_client(args.writers * 2), source.store, source.key, args.table, options=options
    )
    _print({"status": "complete", **asdict(result)})


def cmd_verify(args: argparse.Namespace) -> None:
    source = backup_source(args.source)
    backup = load_backup(source.store, source.key)
    report = verify_backup(source.store, backup)
    _print({"status": "ok", "backup": source.store.location(backup.manifest_key), **asdict(report)})


def cmd_list(args: argparse.Namespace) -> None:
    store, prefix = _store_prefix(args.location)
    rows = [
        {
            "backup": store.location(b.manifest_key),
            "finished_at": b.manifest.finished_at,
            "items": b.manifest.item_count,
            "compressed_bytes": b.manifest.compressed_bytes,
        }
        for b in list_backups(store, prefix, args.table)
    ]
    _print(rows)


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, not {text}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m ledger_backup", description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress to stderr")
    commands = parser.add_subparsers(dest="command", required=True)

    backup = commands.add_parser("backup", help="back a table up to S3 or a local folder")
    backup.add_argument("table")
    backup.add_argument("--to", required=True, help="s3://bucket[/prefix] or a local folder")
    backup.add_argument("--segments", type=_positive, default=4, help="parallel scan segments (default 4)")
    backup.set_defaults(run=cmd_backup)

    restore = commands.add_parser("restore", help="restore a backup into a table")
    restore.add_argument(
        "source", help="s3://bucket/<backup folder or manifest key>, or a local backup folder"
    )
    restore.add_argument("--table", required=True, help="target table (created from the backup if missing)")
    restore.add_argument("--no-create-table", action="store_true", help="fail if the target does not exist")
    restore.add_argument("--overwrite", action="store_true", help="allow a target that already holds items")
    restore.add_argument("--writers", type=_positive, default=4, help="writer threads (default 4)")
    restore.set_defaults(run=cmd_restore)

    verify = commands.add_parser("verify", help="read a backup through and check every checksum and count")
    verify.add_argument("source")
    verify.set_defaults(run=cmd_verify)

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
        args.run(args)
    except LedgerBackupError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0
