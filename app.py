#!/usr/bin/env python3
"""CDK entry point: `npx cdk synth|deploy -c env=NAME` (see cdk.json for the environments)."""

import sys

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
