"""One CloudWatch dashboard per environment: the health of the backups at one glance (README "Dashboard")."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.config import EnvironmentConfig
from ledger_backup.contract import (
    METRIC_BACKUP_BYTES,
    METRIC_BACKUP_DURATION,
    METRIC_BACKUP_FAILED,
    METRIC_BACKUP_SUCCEEDED,
    METRIC_ITEMS_BACKED_UP,
    METRIC_ITEMS_RESTORED,
    METRIC_RESTORE_CONTINUED,
    METRIC_RESTORE_DRILL_FAILED,
    METRIC_RESTORE_DRILL_SUCCEEDED,
    METRIC_RESTORE_FAILED,
    METRIC_RESTORE_SUCCEEDED,
    METRIC_VERIFY_FAILED,
)

DASHBOARD_RANGE = Duration.days(14)
"""What the dashboard shows when it opens: two weeks of daily backups."""
SINCE_LAST_BACKUP_WINDOW_DAYS = 14
"""The hours-since widget's own time range: the furthest back it can find a successful backup."""
SINCE_LAST_BACKUP_PERIOD = Duration.minutes(5)
"""Its resolution: the value is late by less than this (5-minute data is kept 63 days, beyond the window)."""
PER_BACKUP_PERIOD = Duration.hours(1)
"""Backups run hours apart, so an hour holds at most one: each datapoint is one backup's value."""
COUNT_PERIOD = Duration.hours(1)
QUEUE_PERIOD = Duration.minutes(5)  # the dead-letter alarm's period

# Hours since the last successful backup, computed when the dashboard is viewed, not emitted.
# CloudWatch has no "time since the last datapoint" function, and a metric only a successful backup emits
# cannot show its own absence by its last value. So the expression builds the clock itself:
#   EPOCH(ok)              every period of the widget's range, stamped with its start time (EPOCH returns a
#                          non-sparse series over the range whatever `ok` holds): "now", period by period;
#   IF(ok > 0, EPOCH(ok))  the periods that saw a BackupSucceeded, stamped: the successes' times;
#   FILL(..., REPEAT)      each period then carries the time of the latest success at or before it;
#   FILL(..., MIN(...))    periods before the first success in range get the range's start instead;
#   (now - last) / 3600    hours.
# The newest period is the current one, so the value keeps growing while no backup succeeds: a stopped
# schedule, a failing function or a deleted rule all show as a rising number, no datapoint needed.
# When the range holds no success at all the value is the range's length: "at least that many hours".
_NOW = "EPOCH(ok)"
_LAST_SUCCESS = f"FILL(FILL(IF(ok > 0, {_NOW}), REPEAT), MIN({_NOW}))"
HOURS_SINCE_LAST_BACKUP = f"({_NOW} - {_LAST_SUCCESS}) / 3600"


class BackupDashboard(Construct):
    """The dashboard ``<service>-<env>``: recency, alarms, backups, restores, drills, errors, dead letters."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: EnvironmentConfig,
        backup_function: lambda_.IFunction,
        restore_function: lambda_.IFunction,
        failure_queue: sqs.IQueue,
        alarms: Sequence[cloudwatch.IAlarm],
    ) -> None:
        super().__init__(scope, construct_id)
        self._config = config
        functions = {"backup": backup_function, "restore": restore_function}
        dead_letters = failure_queue.metric_approximate_number_of_messages_visible(
            statistic=cloudwatch.Stats.MAXIMUM, period=QUEUE_PERIOD, label="Messages in the failure queue"
        )
        errors = [
            function.metric_errors(
                statistic=cloudwatch.Stats.SUM, period=COUNT_PERIOD, label=f"{role} Errors"
            )
            for role, function in functions.items()
        ]
        throttles = [
            function.metric_throttles(
                statistic=cloudwatch.Stats.SUM, period=COUNT_PERIOD, label=f"{role} Throttles"
            )
            for role, function in functions.items()
        ]
        rows: list[list[cloudwatch.IWidget]] = [
            [
                self._hours_since_last_backup(),
                cloudwatch.AlarmStatusWidget(title="Alarms", alarms=list(alarms), width=8, height=6),
                _graph("Dead letters (async invocations out of retries)", [dead_letters], width=8),
            ],
            [
                _graph(
                    "Backup duration (whole chained run, seconds)", self._per_backup(METRIC_BACKUP_DURATION)
                ),
                _graph(
                    "Items (left) and compressed bytes (right) per backup",
                    self._per_backup(METRIC_ITEMS_BACKED_UP),
                    right=self._per_backup(METRIC_BACKUP_BYTES),
                ),
            ],
            [
                _graph(
                    "Restores per hour (items restored on the right)",
                    self._counts(METRIC_RESTORE_SUCCEEDED, METRIC_RESTORE_FAILED, METRIC_RESTORE_CONTINUED),
                    right=self._counts(METRIC_ITEMS_RESTORED),
                ),
                _graph(
                    "Restore drills per hour",
                    self._counts(METRIC_RESTORE_DRILL_SUCCEEDED, METRIC_RESTORE_DRILL_FAILED),
                ),
            ],
            [
                _graph(
                    "Errors per hour (Lambda Errors, failures the handlers counted)",
                    [
                        *errors,
                        *self._counts(METRIC_BACKUP_FAILED, METRIC_RESTORE_FAILED, METRIC_VERIFY_FAILED),
                    ],
                ),
                _graph("Throttles per hour", throttles),
            ],
        ]
        self.dashboard = cloudwatch.Dashboard(
            self,
            "Dashboard",
            dashboard_name=config.function_name_prefix,
            default_interval=DASHBOARD_RANGE,
            # Keep each widget's period: hourly per-backup points must not be averaged into daily ones.
            period_override=cloudwatch.PeriodOverride.INHERIT,
            widgets=rows,
        )

    def _hours_since_last_backup(self) -> cloudwatch.SingleValueWidget:
        """The newest value of HOURS_SINCE_LAST_BACKUP over the widget's own range, with its sparkline."""
        succeeded = self._metric(METRIC_BACKUP_SUCCEEDED, cloudwatch.Stats.SUM, SINCE_LAST_BACKUP_PERIOD)
        return cloudwatch.SingleValueWidget(
            title=(
                f"Hours since the last successful backup (alarm after {self._config.stale_after_hours}; "
                f"{SINCE_LAST_BACKUP_WINDOW_DAYS * 24} = none in {SINCE_LAST_BACKUP_WINDOW_DAYS} days)"
            ),
            metrics=[
                cloudwatch.MathExpression(
                    expression=HOURS_SINCE_LAST_BACKUP,
                    using_metrics={"ok": succeeded},
                    label="Hours since the last successful backup",
                    period=SINCE_LAST_BACKUP_PERIOD,
                )
            ],
            start=f"-P{SINCE_LAST_BACKUP_WINDOW_DAYS}D",
            sparkline=True,
            width=8,
            height=6,
        )

    def _per_backup(self, name: str) -> list[cloudwatch.Metric]:
        """A value each successful backup emits once; an hour holds one backup, so Maximum is that value."""
        return [self._metric(name, cloudwatch.Stats.MAXIMUM, PER_BACKUP_PERIOD)]

    def _counts(self, *names: str) -> list[cloudwatch.Metric]:
        """Counters summed per hour."""
        return [self._metric(name, cloudwatch.Stats.SUM, COUNT_PERIOD) for name in names]

    def _metric(self, name: str, statistic: str, period: Duration) -> cloudwatch.Metric:
        """A metric a handler emits with Powertools (namespace of the environment, dimension ``service``)."""
        return cloudwatch.Metric(
            namespace=self._config.metrics_namespace,
            metric_name=name,
            dimensions_map={"service": self._config.service_name},
            statistic=statistic,
            period=period,
            label=name,
        )


def _graph(
    title: str,
    left: Sequence[cloudwatch.IMetric],
    *,
    right: Sequence[cloudwatch.IMetric] | None = None,
    width: int = 12,
) -> cloudwatch.GraphWidget:
    """A line graph of the dashboard's standard height."""
    return cloudwatch.GraphWidget(title=title, left=left, right=right, width=width, height=6)
