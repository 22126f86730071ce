"""app.py as `cdk synth` runs it: it finds the Lambda contract itself, and no function dependency."""

import json
import os
import subprocess
import sys

from infra.application import REPO_ROOT

# What the functions need at run time (lambdas/requirements.txt and what it pulls in); the CDK app needs none.
FUNCTION_DEPENDENCIES = {"aws_lambda_powertools", "boto3", "botocore", "ijson", "pydantic", "s3transfer"}


def test_app_reads_the_contract_without_the_functions_dependencies() -> None:
    environ = {name: value for name, value in os.environ.items() if name != "PYTHONPATH"}
    result = subprocess.run(
        [sys.executable, "-c", "import json, sys; import app; print(json.dumps(sorted(sys.modules)))"],
        cwd=REPO_ROOT,  # as cdk.json runs it: only the repository root on the path, no `lambdas`
        env=environ,
        capture_output=True,
        text=True,
        check=False,
        timeout=180,
    )
    assert result.returncode == 0, result.stderr
    modules = set(json.loads(result.stdout.splitlines()[-1]))
    assert {m for m in modules if m.split(".")[0] in ("ledger_backup", "runtime")} == {
        "ledger_backup",
        "ledger_backup.contract",
    }
    assert {m.split(".")[0] for m in modules} & FUNCTION_DEPENDENCIES == set()
