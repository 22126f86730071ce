"""Run both handlers from a Lambda bundle folder alone (copied next to it by test_bundle_run.py).

Started as ``python -I -S bundle_runner.py BUNDLE_DIR REQUEST_JSON``, so sys.path holds the stdlib
only; the bundle folder is put first, as Lambda puts /var/task. Imports nothing of the repository:
whatever the handlers need must be in the folder. Prints one JSON document on stdout: the three
answers, sys.path, and where every imported module came from.
"""

import json
import sys
import time
import uuid
from typing import Any

# Where the test checks each one was imported from (the pins of lambdas/requirements.txt and
# what they pull in), and the bundle's own code.
REPORTED_MODULES = (
    "boto3",
    "botocore",
    "aws_lambda_powertools",
    "ijson",
    "orjson",
    "pydantic",
    "pydantic_core",
    "ledger_backup",
    "runtime",
    "backup_handler",
    "restore_handler",
)


class Context:
    """What the Lambda runtime passes as `context`: the fields Powertools and the handlers read."""

    function_name = "ledger-backup-bundle"
    function_version = "$LATEST"
    memory_limit_in_mb = 1024
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:ledger-backup-bundle"

    def __init__(self, timeout_seconds: float = 900.0) -> None:
        self.aws_request_id = str(uuid.uuid4())
        self._deadline = time.monotonic() + timeout_seconds

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def run(request: dict[str, Any]) -> dict[str, Any]:
    """Back up TABLE_NAME, verify the backup (dry run), restore it into a new table."""
    import backup_handler  # noqa: PLC0415 - only once the bundle folder is on sys.path
    import restore_handler  # noqa: PLC0415

    backup = backup_handler.handler(request["backup_event"], Context())
    restore_event = {"s3_key": backup.get("s3_key"), "target_table": request["target_table"]}
    dry_run = restore_handler.handler({**restore_event, "dry_run": True}, Context())
    restore = restore_handler.handler(restore_event, Context())
    return {"backup": backup, "dry_run": dry_run, "restore": restore}


def origins() -> dict[str, Any]:
    """sys.path, the reported modules' files, and any imported module from outside sys.path."""
    files = {name: getattr(sys.modules.get(name), "__file__", None) for name in REPORTED_MODULES}
    outside = sorted(
        name
        for name, module in list(sys.modules.items())
        if (file := getattr(module, "__file__", None))
        and file != __file__  # this script, as __main__ and multiprocessing's __mp_main__
        and not any(file.startswith(entry + "/") for entry in sys.path)
    )
    return {"sys_path": list(sys.path), "files": files, "outside_sys_path": outside}


def main() -> None:
    bundle, request = sys.argv[1], json.loads(sys.argv[2])
    sys.path.insert(0, bundle)
    answers = sys.stdout
    sys.stdout = sys.stderr  # Powertools logs and metrics go to stdout: keep it for the answers
    result = run(request)
    answers.write(json.dumps({**result, **origins()}, default=str))


if __name__ == "__main__":
    main()
