"""Make failure visible: alarms on backup and restore errors, a stale backup, dead letters and restore drills.

Every alarm publishes to one encrypted SNS topic.
"""

from __future__ import annotations

from typing import cast

from aws_cdk import ArnFormat, Duration, RemovalPolicy, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.config import EnvironmentConfig
from ledger_backup.contract import (
    METRIC_BACKUP_FAILED,
    METRIC_BACKUP_SUCCEEDED,
    METRIC_RESTORE_DRILL_FAILED,
    METRIC_RESTORE_DRILL_SUCCEEDED,
    METRIC_RESTORE_FAILED,
)

CLOUDWATCH_PRINCIPAL = "cloudwatch.amazonaws.com"
DRILL_PERIOD = Duration.days(1)
"""Drill alarms count whole days: a failed drill stays visible for a day; the staleness is counted in days."""
WALL_CLOCK_UTC = cloudwatch.CfnAlarm.EvaluationWindowProperty(
    wall_clock_window=cloudwatch.CfnAlarm.WallClockWindowProperty(timezone="UTC")
)
"""Complete calendar days (midnight to midnight UTC) instead of a sliding window: see no_passed_drill."""


class BackupAlarms(Construct):
    """An encrypted SNS topic (optional e-mail subscription) and the alarms that publish to it.

    Four always; restore-drill-failed too, and no-passed-drill when drills are scheduled.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: EnvironmentConfig,
        backup_function: lambda_.IFunction,
        restore_function: lambda_.IFunction,
        failure_queue: sqs.IQueue,
        removal_policy: RemovalPolicy,
    ) -> None:
        super().__init__(scope, construct_id)
        self._config = config
        self.topic = self._alarm_topic(removal_policy)
        if config.alarm_email:
            self.topic.add_subscription(subscriptions.EmailSubscription(config.alarm_email))
        action = cw_actions.SnsAction(self.topic)
        prefix = config.function_name_prefix

        self.backup_errors = self._alarm_on_any(
            "BackupErrors",
            alarm_name=f"{prefix}-backup-errors",
            alarm_description=(
                f"The backup function failed (Lambda Errors or Powertools {METRIC_BACKUP_FAILED})."
            ),
            metric=cloudwatch.MathExpression(
                expression="FILL(errors, 0) + FILL(failed, 0)",
                using_metrics={
                    "errors": backup_function.metric_errors(statistic=cloudwatch.Stats.SUM),
                    "failed": self._powertools_metric(METRIC_BACKUP_FAILED),
                },
                label="Backup failures",
                period=Duration.minutes(5),
            ),
        )
        # A restore is started by a person, but its continuations run unattended: a failure (including a
        # chain stopped at max_invocations) would otherwise page only once retries end in the DLQ.
        self.restore_errors = self._alarm_on_any(
            "RestoreErrors",
            alarm_name=f"{prefix}-restore-errors",
            alarm_description=(
                f"A restore invocation failed (Lambda Errors or Powertools {METRIC_RESTORE_FAILED}): a "
                "refused or failed restore, a continuation chain stopped at max_invocations "
                "(InvocationLimitReached), or an async attempt that failed (Lambda retries it; the "
                "dead-letters alarm fires once retries run out). The error in the restore function's "
                'logs says what to do; a stopped or died restore carries on with {"resume": "<restore id>"}.'
            ),
            metric=cloudwatch.MathExpression(
                expression="FILL(errors, 0) + FILL(failed, 0)",
                using_metrics={
                    "errors": restore_function.metric_errors(statistic=cloudwatch.Stats.SUM),
                    "failed": self._powertools_metric(METRIC_RESTORE_FAILED),
                },
                label="Restore failures",
                period=Duration.minutes(5),
            ),
        )
        # One-hour datapoints, all of the last N must lack a success; no datapoint at all counts as none.
        self.stale_backup = cloudwatch.Alarm(
            self,
            "NoRecentBackup",
            alarm_name=f"{prefix}-no-successful-backup",
            alarm_description=(
                f"No successful backup ({config.metrics_namespace}/{METRIC_BACKUP_SUCCEEDED}) "
                f"in the last {config.stale_after_hours} hours."
            ),
            metric=self._powertools_metric(METRIC_BACKUP_SUCCEEDED, period=Duration.hours(1)),
            threshold=1,
            comparison_operator=cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
            evaluation_periods=config.stale_after_hours,
            datapoints_to_alarm=config.stale_after_hours,
            treat_missing_data=cloudwatch.TreatMissingData.BREACHING,
        )
        self.dead_letters = self._alarm_on_any(
            "DeadLetters",
            alarm_name=f"{prefix}-dead-letters",
            alarm_description=(
                "An async invocation (scheduled backup, backup or restore continuation, async restore) "
                "exhausted its retries."
            ),
            metric=failure_queue.metric_approximate_number_of_messages_visible(
                statistic=cloudwatch.Stats.MAXIMUM, period=Duration.minutes(5)
            ),
        )
        self.drill_failed = cloudwatch.Alarm(
            self,
            "RestoreDrillFailed",
            alarm_name=f"{prefix}-restore-drill-failed",
            alarm_description=(
                f"A restore drill failed ({config.metrics_namespace}/{METRIC_RESTORE_DRILL_FAILED}) in the "
                "last day: the newest backup could not be restored and checked. The restore function's log "
                "of the drill says why; treat it as a backup you cannot rely on until a drill passes."
            ),
            metric=self._powertools_metric(METRIC_RESTORE_DRILL_FAILED, period=DRILL_PERIOD),
            threshold=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            evaluation_periods=1,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        self.no_passed_drill = self._no_passed_drill() if config.drill_schedule is not None else None
        self.all_alarms: tuple[cloudwatch.Alarm, ...] = (
            self.stale_backup,
            self.backup_errors,
            self.restore_errors,
            self.dead_letters,
            self.drill_failed,
            *((self.no_passed_drill,) if self.no_passed_drill is not None else ()),
        )
        """Every alarm of the construct, in the order the dashboard shows them."""
        for alarm in self.all_alarms:
            alarm.add_alarm_action(action)

    def _no_passed_drill(self) -> cloudwatch.Alarm:
        """No RestoreDrillSucceeded in the last ``drill_stale_after_days - 1`` complete UTC days.

        CloudWatch evaluates at most 7 days (Period x EvaluationPeriods <= 604,800 s), so "8 days" cannot be
        a sliding window; and a sliding window exactly as long as the drill interval would flap each time
        the old success slides out just before the new one lands. Daily periods on a wall-clock window
        (complete days, midnight to midnight UTC) have neither problem: each evaluation sees N - 1 whole
        days, so the alarm turns on at the first midnight after which N - 1 days held no pass, between
        N - 1 and N days after the last one. Missing data counts as failure: no drill ran at all.
        """
        days = self._config.drill_stale_after_days - 1
        alarm = cloudwatch.Alarm(
            self,
            "NoPassedDrill",
            alarm_name=f"{self._config.function_name_prefix}-no-passed-drill",
            alarm_description=(
                f"No restore drill passed ({self._config.metrics_namespace}/"
                f"{METRIC_RESTORE_DRILL_SUCCEEDED}) in the last {days} complete UTC days "
                f"(drill_stale_after_days = {self._config.drill_stale_after_days}): the drill schedule "
                "stopped, or every drill failed."
            ),
            metric=self._powertools_metric(METRIC_RESTORE_DRILL_SUCCEEDED, period=DRILL_PERIOD),
            threshold=1,
            comparison_operator=cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
            evaluation_periods=days,
            datapoints_to_alarm=days,
            treat_missing_data=cloudwatch.TreatMissingData.BREACHING,
        )
        # The L2 Alarm has no evaluation window property (aws-cdk-lib 2.275); its CfnAlarm has.
        cast(cloudwatch.CfnAlarm, alarm.node.default_child).evaluation_window = WALL_CLOCK_UTC
        return alarm

    def _alarm_on_any(
        self, construct_id: str, *, alarm_name: str, alarm_description: str, metric: cloudwatch.IMetric
    ) -> cloudwatch.Alarm:
        """Alarm as soon as one datapoint is at least 1; no data means nothing happened."""
        return cloudwatch.Alarm(
            self,
            construct_id,
            alarm_name=alarm_name,
            alarm_description=alarm_description,
            metric=metric,
            threshold=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            evaluation_periods=1,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )

    def _powertools_metric(self, name: str, period: Duration | None = None) -> cloudwatch.Metric:
        """A metric a handler emits with Powertools (dimension ``service``, shared by both functions)."""
        return cloudwatch.Metric(
            namespace=self._config.metrics_namespace,
            metric_name=name,
            dimensions_map={"service": self._config.service_name},
            statistic=cloudwatch.Stats.SUM,
            period=period or Duration.minutes(5),
        )

    def _alarm_topic(self, removal_policy: RemovalPolicy) -> sns.Topic:
        """SNS needs a customer managed key here: CloudWatch cannot use the AWS managed SNS key."""
        stack = Stack.of(self)
        # Confused-deputy guard: CloudWatch acts only for alarms of this account and region.
        from_own_alarms = {
            "StringEquals": {"aws:SourceAccount": stack.account},
            "ArnLike": {
                "aws:SourceArn": stack.format_arn(
                    service="cloudwatch",
                    resource="alarm",
                    resource_name="*",
                    arn_format=ArnFormat.COLON_RESOURCE_NAME,
                )
            },
        }

        def cloudwatch_may(sid: str, actions: list[str], resource: str) -> iam.PolicyStatement:
            """A resource-policy statement: CloudWatch may act, for alarms of this account and region only."""
            return iam.PolicyStatement(
                sid=sid,
                principals=[iam.ServicePrincipal(CLOUDWATCH_PRINCIPAL)],
                actions=actions,
                resources=[resource],
                conditions=from_own_alarms,
            )

        key = kms.Key(
            self,
            "TopicKey",
            description=f"Encrypts the {self._config.function_name_prefix} alarm topic",
            enable_key_rotation=True,
            removal_policy=removal_policy,
        )
        # In a key policy, '*' means this key.
        key.add_to_resource_policy(
            cloudwatch_may("AllowCloudWatchAlarmsToUseTheKey", ["kms:Decrypt", "kms:GenerateDataKey*"], "*")
        )
        topic = sns.Topic(
            self,
            "Topic",
            display_name=f"{self._config.function_name_prefix} alarms",
            master_key=key,
            enforce_ssl=True,
        )
        # enforce_ssl replaces the default topic policy, so CloudWatch's publish must be allowed explicitly.
        topic.add_to_resource_policy(
            cloudwatch_may("AllowCloudWatchAlarmsToPublish", ["sns:Publish"], topic.topic_arn)
        )
        return topic
