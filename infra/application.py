"""Assemble the CDK app: one stack per selected environment, checked by cdk-nag at synth."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from aws_cdk import App

from infra.config import (
    ENVIRONMENTS_CONTEXT_KEY,
    SELECTED_ENV_CONTEXT_KEY,
    EnvironmentConfig,
    select_environments,
)
from infra.nag import enable_nag
from infra.stack import LedgerBackupStack

REPO_ROOT = Path(__file__).resolve().parent.parent
LAMBDA_SOURCE_DIR = REPO_ROOT / "lambdas"


def environments_from_context(app: App) -> list[EnvironmentConfig]:
    """The environments cdk.json defines, narrowed to one by ``-c env=NAME``."""
    return select_environments(
        app.node.try_get_context(ENVIRONMENTS_CONTEXT_KEY),
        app.node.try_get_context(SELECTED_ENV_CONTEXT_KEY),
    )


def build_app(
    app: App, configs: Sequence[EnvironmentConfig], lambda_source: Path = LAMBDA_SOURCE_DIR
) -> list[LedgerBackupStack]:
    """Add a stack per environment and the AwsSolutions checks; used by app.py and the tests alike."""
    stacks = [LedgerBackupStack(app, config=config, lambda_source=lambda_source) for config in configs]
    enable_nag(app)
    return stacks
