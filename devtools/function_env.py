"""The environment the stack gives both functions, for running their handlers locally."""


def function_environ(table: str, bucket: str, segments: int = 3, writers: int = 4) -> dict[str, str]:
    """What `infra/` sets on the Lambda functions (see runtime/settings.py), with local defaults."""
    return {
        "TABLE_NAME": table,
        "BACKUP_BUCKET": bucket,
        "BACKUP_PREFIX": "backups/",
        "SCAN_SEGMENTS": str(segments),
        "RESTORE_WRITERS": str(writers),
        "POWERTOOLS_SERVICE_NAME": "ledger-backup",
        "POWERTOOLS_METRICS_NAMESPACE": "LedgerBackup",
    }
