#!/usr/bin/env python3
"""CDK entry point: `npx cdk synth|deploy -c env=NAME` (see cdk.json for the environments)."""

from aws_cdk import App

from infra.application import build_app, environments_from_context


def main() -> None:
    """Synthesize the stacks of the selected environments (all of them without ``-c env``)."""
    app = App()
    build_app(app, environments_from_context(app))
    app.synth()


if __name__ == "__main__":
    main()
