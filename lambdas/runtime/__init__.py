"""Lambda-only glue: settings from the environment, event models, Powertools instances.

Kept apart from the `ledger_backup` core, which knows nothing about Lambda.
"""
