"""`make demo`: the whole job against local services, as the deployed functions would run it.

Starts DynamoDB Local and an S3 server on loopback, loads a 399-book ledger, invokes the
backup Lambda's handler with a real scheduled-event payload, restores into
`<table>-restored` with the restore Lambda's handler, checks every item, prints a
summary, and stops what it started. The functions' own JSON logs and metrics go to
demo-output/lambda-output.jsonl.
"""

import json
import os
import sys
import time
from contextlib import redirect_stdout
from typing import Any

from devtools.function_env import function_environ
from devtools.lambda_context import FakeLambdaContext
from devtools.ledger_items import ledger_items
from devtools.local_aws import REPO_ROOT, aws_environ, local_aws
from devtools.sample_events import scheduled_event
from devtools.tables import create_table, load_items, scan_all

TABLE = "jsmith-pipeline-ledger"
BUCKET = "jsmith-ledger-backups"
BOOKS = 399
OUTPUT = REPO_ROOT / "demo-output"


def say(message: str) -> None:
    print(message, file=sys.__stdout__, flush=True)


def main() -> int:
    OUTPUT.mkdir(exist_ok=True)
    function_log = OUTPUT / "lambda-output.jsonl"
    os.environ.update(function_environ(TABLE, BUCKET, segments=4))
    say("starting DynamoDB Local and the S3 server on loopback ...")
    with local_aws() as services, aws_environ(services), function_log.open("w") as log:
        import boto3  # noqa: PLC0415 - after the endpoints are set

        say(f"  DynamoDB Local {services.dynamodb_endpoint}, S3 {services.s3_endpoint}")
        dynamodb = boto3.client("dynamodb")
        boto3.client("s3").create_bucket(Bucket=BUCKET)
        create_table(dynamodb, TABLE, hash_key="book_id")
        books = list(ledger_items(BOOKS))
        load_items(dynamodb, TABLE, books)
        say(f"loaded {len(books)} books into {TABLE}")

        with redirect_stdout(log):  # the handlers' structured logs and EMF metrics
            import backup_handler  # noqa: PLC0415 - Powertools binds its log stream at import
            import restore_handler  # noqa: PLC0415

            started = time.monotonic()
            backup = backup_handler.handler(scheduled_event(), FakeLambdaContext("ledger-backup-backup"))
            backup_seconds = time.monotonic() - started
            restore_event = {"s3_key": backup["s3_key"], "target_table": f"{TABLE}-restored"}
            started = time.monotonic()
            restored = restore_handler.handler(restore_event, FakeLambdaContext("ledger-backup-restore"))
            restore_seconds = time.monotonic() - started
        say("\nbackup handler returned:\n" + json.dumps(backup, indent=2))
        say(
            "\nrestore handler, invoked with "
            + json.dumps(restore_event)
            + ", returned:\n"
            + json.dumps(restored, indent=2)
        )

        original = scan_all(dynamodb, TABLE, "book_id")
        copy = scan_all(dynamodb, f"{TABLE}-restored", "book_id")
        mismatched = sorted(k for k in original.keys() | copy.keys() if original.get(k) != copy.get(k))
        summary: dict[str, Any] = {
            "books_in_table": len(original),
            "books_restored": len(copy),
            "items_identical": not mismatched,
            "backup": {
                "items": backup["item_count"],
                "files": backup["files"],
                "json_bytes": backup["uncompressed_bytes"],
                "gzip_bytes": backup["compressed_bytes"],
                "seconds": round(backup_seconds, 2),
            },
            "restore": {"items": restored["items_restored"], "seconds": round(restore_seconds, 2)},
        }
        say("\nsummary:\n" + json.dumps(summary, indent=2))
        say(f"function logs and metrics: {function_log}")
        if mismatched:
            say(f"MISMATCH in {len(mismatched)} item(s), e.g. {mismatched[:3]}")
            return 1
    say("stopped the local services.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
