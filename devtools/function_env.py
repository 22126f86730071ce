"""The environment the stack gives both functions, for running their handlers locally."""

from ledger_backup.contract import (
    DEFAULT_BACKUP_PREFIX,
    DEFAULT_MAX_INVOCATIONS,
    DEFAULT_METRICS_NAMESPACE,
    DEFAULT_RESTORE_WRITERS,
    DEFAULT_SERVICE_NAME,
    ENV_BACKUP_BUCKET,
    ENV_BACKUP_PREFIX,
    ENV_MAX_INVOCATIONS,
    ENV_METRICS_NAMESPACE,
    ENV_RESTORE_WRITERS,
    ENV_SCAN_SEGMENTS,
    ENV_SERVICE_NAME,
    ENV_TABLE_NAME,
)


def function_environ(
    table: str, bucket: str, segments: int = 3, writers: int = DEFAULT_RESTORE_WRITERS
) -> dict[str, str]:
    """What `infra/` sets on the Lambda functions (see runtime/settings.py), with local defaults.

    Three scan segments by default, not the stack's four: the fault tests count on three data files.
    """
    return {
        ENV_TABLE_NAME: table,
        ENV_BACKUP_BUCKET: bucket,
        ENV_BACKUP_PREFIX: DEFAULT_BACKUP_PREFIX,
        ENV_SCAN_SEGMENTS: str(segments),
        ENV_RESTORE_WRITERS: str(writers),
        ENV_MAX_INVOCATIONS: str(DEFAULT_MAX_INVOCATIONS),
        ENV_SERVICE_NAME: DEFAULT_SERVICE_NAME,
        ENV_METRICS_NAMESPACE: DEFAULT_METRICS_NAMESPACE,
    }
