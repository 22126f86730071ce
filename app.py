#!/usr/bin/env python3
"""CDK entry point: `npx cdk synth|deploy -c env=NAME` (see cdk.json for the environments)."""

import sys
from pathlib import Path

# infra/ reads the Lambda contract (environment names, defaults, metrics) from the asset's own package,
# lambdas/ledger_backup/contract.py, rather than keeping a copy. pytest and mypy find `lambdas` through
# pyproject.toml; `cdk synth` runs this file (cdk.json), so it puts the folder on the path itself. The
# contract is standard library only and ledger_backup/__init__.py imports nothing, so the app gets no
# boto3 (tests/infra/test_app.py checks that).
sys.path.insert(0, str(Path(__file__).resolve().parent / "lambdas"))

from aws_cdk import App

from infra.application import build_app, environments_from_context
from infra.config import ConfigError


def main() -> None:
    """Synthesize the stacks of the selected environments (all of them without ``-c env``)."""
    app = App()
    try:
        environments = environments_from_context(app)
    except ConfigError as error:
        sys.exit(f"cdk.json / -c context: {error}")
    build_app(app, environments)
    app.synth()


if __name__ == "__main__":
    main()
