"""ledger-backup core: stream a DynamoDB table to a backup store and back.

This package has no Lambda or CDK imports so that the Lambda handlers, the CLI
(`python -m ledger_backup`), the demo and the tests all drive the same code. It is laid out
by stage: `backup/`, `restore/` (with verify), `sources/` (readers of every backup kind),
`storage/` (stores and byte streams), `aws/` (DynamoDB data access); the modules at the top
(codec, schema, manifest, layout, catalog, errors) are shared by all of them.
"""
