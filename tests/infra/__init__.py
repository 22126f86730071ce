"""Tests of the CDK app (infra/, app.py, cdk.json)."""
