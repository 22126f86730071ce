"""CDK infrastructure for ledger-backup: one stack per environment configured in cdk.json."""
