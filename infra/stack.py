"""One stack per environment: table, bucket, the two functions, schedule, alarms, dashboard, outputs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aws_cdk import CfnOutput, Duration, Environment, Stack, Tags
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.bundling import lambda_code
from infra.config import EnvironmentConfig
from infra.dashboard import BackupDashboard
from infra.functions import LedgerFunction, retention_days
from infra.monitoring import BackupAlarms
from infra.nag import acknowledge, iam5_resource_finding
from infra.permissions import (
    backup_statements,
    bucket_key_statement,
    export_statements,
    function_arn,
    import_log_groups,
    restore_progress_objects,
    restore_statements,
    restore_table_arn_pattern,
)
from infra.storage import BackupBucket, ledger_table, removal_policy
from ledger_backup.contract import (
    ENV_BACKUP_BUCKET,
    ENV_BACKUP_KMS_KEY_ARN,
    ENV_BACKUP_METHOD,
    ENV_BACKUP_PREFIX,
    ENV_CONTINUATION_MARGIN_SECONDS,
    ENV_KEEP_DAILY,
    ENV_KEEP_LAST,
    ENV_KEEP_MONTHLY,
    ENV_KEEP_WEEKLY,
    ENV_LOG_LEVEL,
    ENV_MAX_INVOCATIONS,
    ENV_MAX_ITEMS_PER_SECOND,
    ENV_METRICS_NAMESPACE,
    ENV_RESTORE_WRITERS,
    ENV_SCAN_SEGMENTS,
    ENV_SERVICE_NAME,
    ENV_TABLE_NAME,
    EXPORT_POLL_MINUTES,
    RESTORES_FOLDER,
)

BACKUP_HANDLER = "backup_handler.handler"
RESTORE_HANDLER = "restore_handler.handler"
# Async invocations (the schedule's, every self-continuation) are retried twice, then dead-lettered. A retried
# continuation starts again from the immutable checkpoint named in its event: it re-puts the same items and
# cannot count one twice, and one whose twin already finished returns the recorded result.
ASYNC_RETRY_ATTEMPTS = 2
RESTORE_EPHEMERAL_STORAGE_MIB = 2048  # see the restore function below
RESTORE_PAYLOAD_EXAMPLE = '{"s3_key":"<prefix><table>/<ts>/manifest.json","target_table":"<table>-restored"}'
DRILL_EVENT = {"drill": True}
"""What the drill schedule sends the restore function: restore the newest backup into a scratch table."""


def stack_environment(config: EnvironmentConfig) -> Environment | None:
    """Pin account/region only when cdk.json does; otherwise deploy where the credentials point."""
    if config.account is None and config.region is None:
        return None
    return Environment(account=config.account, region=config.region)


class LedgerBackupStack(Stack):
    """Backup/restore service for the pipeline ledger in one environment."""

    def __init__(
        self, scope: Construct, *, config: EnvironmentConfig, lambda_source: Path, **kwargs: Any
    ) -> None:
        super().__init__(
            scope,
            config.stack_name,
            stack_name=config.stack_name,
            description=f"ledger-backup ({config.name}): S3 backups of {config.table_name}, and restore",
            env=stack_environment(config),
            termination_protection=config.retain_data,
            **kwargs,
        )
        self.config = config
        Tags.of(self).add("service", config.service_name)
        Tags.of(self).add("environment", config.name)
        data_policy = removal_policy(config)

        self.table = ledger_table(self, config)
        self.storage = BackupBucket(self, "Backups", config=config)
        self.bucket = self.storage.bucket
        # With SSE-KMS each function may use the bucket's key through S3, and for nothing else.
        key_statements = (
            [] if self.storage.key is None else [bucket_key_statement(self.storage.key.key_arn, self.region)]
        )

        self.failure_queue = sqs.Queue(
            self,
            "FailedInvocations",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=Duration.days(14),
        )
        acknowledge(
            self.failure_queue,
            "AwsSolutions-SQS3",
            "This queue is itself the dead-letter destination of the functions and of the schedule target.",
        )

        code = lambda_code(lambda_source)
        common_env = {
            ENV_TABLE_NAME: config.table_name,
            ENV_BACKUP_BUCKET: self.bucket.bucket_name,
            ENV_BACKUP_PREFIX: config.backup_prefix,
            ENV_SERVICE_NAME: config.service_name,
            ENV_METRICS_NAMESPACE: config.metrics_namespace,
            ENV_LOG_LEVEL: config.log_level,
            # Both functions stop taking work this long before their timeout and continue in a new invocation.
            ENV_CONTINUATION_MARGIN_SECONDS: str(config.continuation_margin_seconds),
            # ... at most this many times in one chain (runtime/invocation.py): the recursion guard rail.
            ENV_MAX_INVOCATIONS: str(config.max_invocations),
        }
        common: dict[str, Any] = {
            "code": code,
            "memory_mb": config.lambda_memory_mb,
            "timeout": Duration.minutes(config.lambda_timeout_minutes),
            "log_retention": retention_days(config.log_retention_days),
            "log_removal_policy": data_policy,
            "failure_queue": self.failure_queue,
            "async_retry_attempts": ASYNC_RETRY_ATTEMPTS,
        }
        if config.max_items_per_second is not None:
            common_env[ENV_MAX_ITEMS_PER_SECOND] = str(config.max_items_per_second)
        backup_name = f"{config.function_name_prefix}-backup"
        # An SSE-KMS bucket's key, which each export request names (backup/export/start.py); SSE-S3: unset.
        key_env = {} if self.storage.key is None else {ENV_BACKUP_KMS_KEY_ARN: self.storage.key.key_arn}
        self.backup = LedgerFunction(
            self,
            "Backup",
            function_name=backup_name,
            description=f"Daily backup of DynamoDB table {config.table_name} to S3",
            handler=BACKUP_HANDLER,
            environment={
                **common_env,
                ENV_SCAN_SEGMENTS: str(config.scan_segments),
                # After each successful backup its pruner keeps these and deletes the older ones.
                ENV_KEEP_LAST: str(config.keep_last),
                ENV_KEEP_DAILY: str(config.keep_daily),
                ENV_KEEP_WEEKLY: str(config.keep_weekly),
                ENV_KEEP_MONTHLY: str(config.keep_monthly),
                **key_env,
            },
            statements=[
                *backup_statements(
                    self.table.table_arn, self.bucket, config.backup_prefix, function_arn(self, backup_name)
                ),
                *key_statements,
            ],
            **common,
        )
        restore_name = f"{config.function_name_prefix}-restore"
        self.restore = LedgerFunction(
            self,
            "Restore",
            function_name=restore_name,
            description=f"On-demand restore of a backup into {config.table_name} or {config.table_name}*",
            handler=RESTORE_HANDLER,
            environment={**common_env, ENV_RESTORE_WRITERS: str(config.restore_writers)},
            # /tmp holds a plan's on-disk index of both sides (restore/plan.py, about 320 bytes per item):
            # 2 GiB plans a table of about 6 million items; Lambda's default 512 MiB about 1.5 million.
            ephemeral_storage_mib=RESTORE_EPHEMERAL_STORAGE_MIB,
            statements=[
                *restore_statements(
                    self,
                    config.table_name,
                    self.bucket,
                    config.backup_prefix,
                    function_arn(self, restore_name),
                ),
                *key_statements,
            ],
            **common,
        )
        self._acknowledge_scoped_wildcards()
        self._export_backups()

        self.schedule = events.Rule(
            self,
            "DailyBackup",
            description=f"Starts the {config.name} ledger backup",
            schedule=events.Schedule.expression(config.backup_schedule),
            targets=[
                targets.LambdaFunction(
                    self.backup.function,
                    retry_attempts=2,
                    max_event_age=Duration.hours(2),
                    dead_letter_queue=self.failure_queue,
                )
            ],
        )
        self.drill_schedule = self._drill_schedule()
        self.alarms = BackupAlarms(
            self,
            "Alarms",
            config=config,
            backup_function=self.backup.function,
            restore_function=self.restore.function,
            failure_queue=self.failure_queue,
            removal_policy=data_policy,
        )
        self.dashboard = BackupDashboard(
            self,
            "Dashboard",
            config=config,
            backup_function=self.backup.function,
            restore_function=self.restore.function,
            failure_queue=self.failure_queue,
            alarms=list(self.alarms.all_alarms),
        )
        self._outputs()

    def _drill_schedule(self) -> events.Rule | None:
        """Restore drills on their own schedule: the restore function, invoked with {"drill": true}."""
        if self.config.drill_schedule is None:
            return None
        return events.Rule(
            self,
            "RestoreDrill",
            description=f"Starts the {self.config.name} restore drill (newest backup into a scratch table)",
            schedule=events.Schedule.expression(self.config.drill_schedule),
            targets=[
                targets.LambdaFunction(
                    self.restore.function,
                    event=events.RuleTargetInput.from_object(DRILL_EVENT),
                    retry_attempts=2,
                    max_event_age=Duration.hours(2),
                    dead_letter_queue=self.failure_queue,
                )
            ],
        )

    def _export_backups(self) -> None:
        """backup_method export: its permissions, the export-poll rule and the incremental rule.

        An export runs for minutes to hours without the function, and Lambda's async Invoke has no
        delay, so a fixed rule polls every EXPORT_POLL_MINUTES: no resources made at run time, and a
        missed or failed poll is simply followed by the next one (backup/export/poll.py).
        """
        config = self.config
        self.backup.function.add_environment(ENV_BACKUP_METHOD, config.backup_method)
        if config.backup_method != "export":
            return
        for statement in export_statements(self.table.table_arn, self.bucket, config.backup_prefix):
            self.backup.role.add_to_principal_policy(statement)
        acknowledge(
            self.backup.role,
            iam5_resource_finding(self, f"{self.table.table_arn}/export/*"),
            "Export ARNs are made by DynamoDB per export (table/<ledger>/export/<ExportId>); DescribeExport "
            "is limited to the ledger table's exports.",
        )
        poll_minutes = Duration.minutes(EXPORT_POLL_MINUTES)
        self.export_poll = events.Rule(
            self,
            "ExportPoll",
            description=f"Checks the {config.name} ledger's running exports and catalogs finished ones",
            schedule=events.Schedule.rate(poll_minutes),
            targets=[
                targets.LambdaFunction(
                    self.backup.function,
                    event=events.RuleTargetInput.from_object({"export_poll": True}),
                    retry_attempts=0,  # the next poll comes in EXPORT_POLL_MINUTES anyway
                    max_event_age=Duration.minutes(EXPORT_POLL_MINUTES * 2),
                    dead_letter_queue=self.failure_queue,
                )
            ],
        )
        if config.incremental_schedule is not None:
            self.incremental_schedule = events.Rule(
                self,
                "IncrementalExport",
                description=f"Starts an incremental export of the {config.name} ledger",
                schedule=events.Schedule.expression(config.incremental_schedule),
                targets=[
                    targets.LambdaFunction(
                        self.backup.function,
                        event=events.RuleTargetInput.from_object({"incremental": True}),
                        retry_attempts=2,
                        max_event_age=Duration.hours(1),
                        dead_letter_queue=self.failure_queue,
                    )
                ],
            )

    def _acknowledge_scoped_wildcards(self) -> None:
        """The remaining IAM5 findings are wildcards *within* a known prefix; each is the narrowest form."""
        objects = iam5_resource_finding(self, self.bucket.arn_for_objects(f"{self.config.backup_prefix}*"))
        reason_objects = (
            "Backup object keys are generated per run (<prefix><table>/<timestamp>/...); the grant is "
            f"limited to keys under '{self.config.backup_prefix}' in this one bucket."
        )
        acknowledge(self.backup.role, objects, reason_objects)
        acknowledge(self.restore.role, objects, reason_objects)
        progress = restore_progress_objects(self.config.backup_prefix)
        acknowledge(
            self.restore.role,
            iam5_resource_finding(self, self.bucket.arn_for_objects(progress)),
            "Restore progress keys are generated per restore "
            f"({RESTORES_FOLDER}<restore id>/checkpoint-*.json and result.json); "
            f"PutObject/DeleteObject are limited to '{progress}', so no backup can be changed.",
        )
        acknowledge(
            self.restore.role,
            iam5_resource_finding(self, restore_table_arn_pattern(self, self.config.table_name)),
            "Restore targets are the ledger table or new tables named '<ledger>...' (e.g. "
            "'<ledger>-restored', created by the restore); the handler refuses any other name.",
        )
        acknowledge(
            self.restore.role,
            iam5_resource_finding(self, import_log_groups(self)),
            "ImportTable (restore method 'import') writes its CloudWatch log into log groups it names "
            "under /aws-dynamodb/; the grant is limited to that path, in this account and region.",
        )

    def _outputs(self) -> None:
        """Names an operator needs: which function to invoke, where backups go, where alarms go."""
        outputs = {
            "BackupFunctionName": (self.backup.function.function_name, "Scheduled backup function"),
            "RestoreFunctionName": (
                self.restore.function.function_name,
                "Restore function: aws lambda invoke --function-name <this> "
                f"--cli-binary-format raw-in-base64-out --payload '{RESTORE_PAYLOAD_EXAMPLE}' out.json",
            ),
            "BackupBucketName": (
                self.bucket.bucket_name,
                f"Backups under s3://<this>/{self.config.backup_prefix}",
            ),
            "LedgerTableName": (self.table.table_name, "Table that is backed up (created or adopted)"),
            "AlarmTopicArn": (self.alarms.topic.topic_arn, "SNS topic of the backup alarms (subscribe here)"),
            "FailedInvocationsQueueUrl": (self.failure_queue.queue_url, "Dead letters of async invocations"),
        }
        if self.config.replica is not None:
            outputs["ReplicaBucketName"] = (
                self.config.replica.bucket_name,
                "S3 replication copies new backups here (README: Restoring from the replica)",
            )
        if self.storage.replication_role is not None:
            outputs["ReplicationRoleArn"] = (
                self.storage.replication_role.role_arn,
                "Role S3 replicates with: the replica bucket's policy (and key policy) must allow it",
            )
        if self.storage.key is not None:
            outputs["BackupKeyArn"] = (self.storage.key.key_arn, "KMS key of the backup bucket (SSE-KMS)")
        for output_id, (value, description) in outputs.items():
            CfnOutput(self, output_id, value=value, description=description)
