"""ledger-backup core: stream a DynamoDB table to a backup store and back.

This package has no Lambda or CDK imports so that the Lambda handlers, the CLI
(`python -m ledger_backup`), the demo and the tests all drive the same code.
"""

from ledger_backup.backup import BackupResult, run_backup
from ledger_backup.errors import LedgerBackupError
from ledger_backup.restore import RestoreResult, run_restore

__all__ = ["BackupResult", "LedgerBackupError", "RestoreResult", "run_backup", "run_restore"]
