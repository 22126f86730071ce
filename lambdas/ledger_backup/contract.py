"""The contract between the stack and the functions, spelled once: environment, defaults, metrics, keys.

The CDK app (infra/), the Lambda glue (runtime/), the handlers, the core and the dev tools all
read these names from here, so a renamed variable or metric cannot leave one side behind.
Standard library only: the CDK app imports it without the functions' dependencies.
"""

from typing import Final

# Environment variables the stack sets on both functions (see README "Layout").
ENV_TABLE_NAME: Final = "TABLE_NAME"
ENV_BACKUP_BUCKET: Final = "BACKUP_BUCKET"
ENV_BACKUP_PREFIX: Final = "BACKUP_PREFIX"
ENV_SCAN_SEGMENTS: Final = "SCAN_SEGMENTS"  # backup function only
ENV_RESTORE_WRITERS: Final = "RESTORE_WRITERS"  # restore function only
ENV_CONTINUATION_MARGIN_SECONDS: Final = "CONTINUATION_MARGIN_SECONDS"
ENV_MAX_ITEMS_PER_SECOND: Final = "MAX_ITEMS_PER_SECOND"  # unset: as fast as DynamoDB allows
ENV_MAX_INVOCATIONS: Final = "MAX_INVOCATIONS"  # longest chain of self-invocations (runtime/invocation.py)
ENV_BACKUP_METHOD: Final = "BACKUP_METHOD"  # backup function only: "scan" or "export" (backup/export/)
# Backup function only, set when the bucket is SSE-KMS: the key DynamoDB's exports are written under.
ENV_BACKUP_KMS_KEY_ARN: Final = "BACKUP_KMS_KEY_ARN"
ENV_SERVICE_NAME: Final = "POWERTOOLS_SERVICE_NAME"
ENV_METRICS_NAMESPACE: Final = "POWERTOOLS_METRICS_NAMESPACE"
ENV_LOG_LEVEL: Final = "POWERTOOLS_LOG_LEVEL"
# Retention the backup function's pruner applies after each successful backup (backup function only).
ENV_KEEP_LAST: Final = "KEEP_LAST"
ENV_KEEP_DAILY: Final = "KEEP_DAILY"
ENV_KEEP_WEEKLY: Final = "KEEP_WEEKLY"
ENV_KEEP_MONTHLY: Final = "KEEP_MONTHLY"

# Defaults, the same for the stack's settings, the functions' fallbacks and the CLI.
DEFAULT_BACKUP_PREFIX: Final = "backups/"
DEFAULT_SCAN_SEGMENTS: Final = 4
DEFAULT_RESTORE_WRITERS: Final = 4
DEFAULT_CONTINUATION_MARGIN_SECONDS: Final = 60
# A day of 15-minute invocations (96 x 15 min = 24 h). The daily backup that still chains after a day has
# met the next scheduled one and is stuck, not long; a restore that needs more is resumed by a person.
DEFAULT_MAX_INVOCATIONS: Final = 96
# The most a chain may be allowed (cdk.json and the continuation event check it): over 10 days of
# 15-minute invocations, past which the cap no longer guards anything.
MAX_INVOCATIONS_CEILING: Final = 1000
DEFAULT_SERVICE_NAME: Final = "ledger-backup"
DEFAULT_METRICS_NAMESPACE: Final = "LedgerBackup"
# The newest complete backups always kept, whatever the daily/weekly/monthly windows say.
DEFAULT_KEEP_LAST: Final = 7

# Restore progress lives under <backup prefix><RESTORES_FOLDER><restore id>/; backups live under
# <backup prefix><table>/, so no table may be named like this folder.
RESTORES_FOLDER: Final = "restores/"
# Export backups waiting for DynamoDB (backup/export/) are recorded under
# <backup prefix><EXPORT_JOBS_FOLDER><table>/<ExportId>/ until cataloged; likewise no table may be named so.
EXPORT_JOBS_FOLDER: Final = "export-jobs/"
BACKUP_METHODS: Final = ("scan", "export")
DEFAULT_BACKUP_METHOD: Final = "scan"
# How often the export-poll schedule looks at running exports (DynamoDB exports take minutes to hours).
EXPORT_POLL_MINUTES: Final = 5
# Tag on every table a restore creates: the restore role may delete only tables that carry it (IAM
# condition aws:ResourceTag), which is how a restore refused for its input removes the table it made.
CREATED_BY_RESTORE_TAG: Final = {"Key": "ledger-backup:created-by", "Value": "restore"}

# Metrics the functions emit (Powertools, in the namespace above) and the alarms watch.
METRIC_BACKUP_SUCCEEDED: Final = "BackupSucceeded"
METRIC_BACKUP_FAILED: Final = "BackupFailed"
METRIC_BACKUP_CONTINUED: Final = "BackupContinued"
METRIC_BACKUP_DURATION: Final = "BackupDuration"
METRIC_ITEMS_BACKED_UP: Final = "ItemsBackedUp"
METRIC_BACKUP_BYTES: Final = "BackupBytes"
METRIC_BACKUPS_PRUNED: Final = "BackupsPruned"  # backups deleted by the retention policy after a backup
METRIC_RESTORE_SUCCEEDED: Final = "RestoreSucceeded"
METRIC_RESTORE_FAILED: Final = "RestoreFailed"
METRIC_RESTORE_CONTINUED: Final = "RestoreContinued"
METRIC_ITEMS_RESTORED: Final = "ItemsRestored"
METRIC_RESTORE_STATUS_READ: Final = "RestoreStatusRead"
METRIC_BACKUP_VERIFIED: Final = "BackupVerified"
METRIC_VERIFY_FAILED: Final = "VerifyFailed"
METRIC_PRUNE_FAILED: Final = "PruneFailed"
# Emitted by the restore drill (a later change); the dashboard graphs them already.
METRIC_RESTORE_DRILL_SUCCEEDED: Final = "RestoreDrillSucceeded"
METRIC_RESTORE_DRILL_FAILED: Final = "RestoreDrillFailed"
