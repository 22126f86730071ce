"""The per-environment dashboard: its name, and every metric it shows with its namespace and dimensions."""

import json
from dataclasses import dataclass
from typing import Any

from infra.dashboard import HOURS_SINCE_LAST_BACKUP
from tests.infra import cfn
from tests.infra.conftest import Synthesized, ids

# Powertools metrics by widget (title start): (name, statistic), each per hour.
POWERTOOLS_BY_WIDGET = {
    "Backup duration": {("BackupDuration", "Maximum")},
    "Items (left)": {("ItemsBackedUp", "Maximum"), ("BackupBytes", "Maximum")},
    "Restores per hour": {
        ("RestoreSucceeded", "Sum"),
        ("RestoreFailed", "Sum"),
        ("RestoreContinued", "Sum"),
        ("ItemsRestored", "Sum"),
    },
    "Restore drills": {("RestoreDrillSucceeded", "Sum"), ("RestoreDrillFailed", "Sum")},
    "Errors per hour": {("BackupFailed", "Sum"), ("RestoreFailed", "Sum"), ("VerifyFailed", "Sum")},
}


@dataclass(frozen=True)
class Graphed:
    """One metric row of a widget: ``[namespace, name, dim, value, ..., {options}]``."""

    widget: str
    namespace: str
    name: str
    dimensions: dict[str, str]
    options: dict[str, Any]


def _dashboard(synthesized: Synthesized, env: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """(properties, body): the body, a Fn::Join of JSON text and tokens, rendered with <Ref> placeholders."""
    (dashboard,) = cfn.resources(synthesized.template_json(env), "AWS::CloudWatch::Dashboard").values()
    properties: dict[str, Any] = dashboard["Properties"]
    body: dict[str, Any] = json.loads(cfn.render(properties["DashboardBody"]))
    return properties, body


def _graphed(body: dict[str, Any]) -> list[Graphed]:
    rows = []
    for widget in body["widgets"]:
        for row in widget["properties"].get("metrics", []):
            if isinstance(row[0], str):
                *fields, options = row
                namespace, name, *pairs = fields
                dimensions = dict(zip(pairs[::2], pairs[1::2], strict=True))
                rows.append(Graphed(widget["properties"]["title"], namespace, name, dimensions, options))
    return rows


def _one(rows: list[Graphed], namespace: str, name: str, dimensions: dict[str, str]) -> Graphed:
    found = [r for r in rows if (r.namespace, r.name, r.dimensions) == (namespace, name, dimensions)]
    assert len(found) == 1, f"{namespace}/{name} {dimensions}: {found}"
    return found[0]


def test_one_dashboard_per_environment_named_like_the_functions(synthesized: Synthesized, env: str) -> None:
    properties, body = _dashboard(synthesized, env)
    assert properties["DashboardName"] == synthesized.configs[env].function_name_prefix
    assert (body["start"], body["periodOverride"]) == ("-P14D", "inherit")


def test_backup_restore_drill_and_failure_metrics_of_powertools(synthesized: Synthesized, env: str) -> None:
    config = synthesized.configs[env]
    rows = [
        r
        for r in _graphed(_dashboard(synthesized, env)[1])
        if r.namespace == config.metrics_namespace and r.name != "BackupSucceeded"  # that one: below
    ]
    assert all(r.dimensions == {"service": config.service_name} for r in rows), rows
    assert all(r.options["period"] == 3600 for r in rows), rows
    by_widget: dict[str, set[tuple[str, str]]] = {}
    for r in rows:
        (prefix,) = [p for p in POWERTOOLS_BY_WIDGET if r.widget.startswith(p)]
        by_widget.setdefault(prefix, set()).add((r.name, r.options["stat"]))
    assert by_widget == POWERTOOLS_BY_WIDGET
    assert len(rows) == sum(len(metrics) for metrics in POWERTOOLS_BY_WIDGET.values())


def test_lambda_errors_and_throttles_of_both_functions(synthesized: Synthesized, env: str) -> None:
    i = ids(synthesized, env)
    rows = _graphed(_dashboard(synthesized, env)[1])
    for function in ("backup", "restore"):
        for name in ("Errors", "Throttles"):
            graphed = _one(rows, "AWS/Lambda", name, {"FunctionName": f"<{i[function]}>"})
            assert (graphed.options["stat"], graphed.options["period"]) == ("Sum", 3600)


def test_dead_letter_queue_depth(synthesized: Synthesized, env: str) -> None:
    i = ids(synthesized, env)
    rows = _graphed(_dashboard(synthesized, env)[1])
    graphed = _one(
        rows, "AWS/SQS", "ApproximateNumberOfMessagesVisible", {"QueueName": f"<{i['queue']}.QueueName>"}
    )
    assert graphed.options["stat"] == "Maximum"
    assert graphed.options.get("period", 300) == 300  # CDK leaves out CloudWatch's default period


def test_hours_since_the_last_successful_backup_is_computed_from_backup_succeeded(
    synthesized: Synthesized, env: str
) -> None:
    config = synthesized.configs[env]
    _, body = _dashboard(synthesized, env)
    (widget,) = [w for w in body["widgets"] if w["properties"].get("view") == "singleValue"]
    properties = widget["properties"]
    expression, succeeded = properties["metrics"]
    assert expression == [
        {"expression": HOURS_SINCE_LAST_BACKUP, "label": "Hours since the last successful backup"}
    ]
    assert HOURS_SINCE_LAST_BACKUP == (
        "(EPOCH(ok) - FILL(FILL(IF(ok > 0, EPOCH(ok)), REPEAT), MIN(EPOCH(ok)))) / 3600"
    )
    assert succeeded[:4] == [config.metrics_namespace, "BackupSucceeded", "service", config.service_name]
    assert succeeded[4] == {"id": "ok", "label": "BackupSucceeded", "stat": "Sum", "visible": False}
    # Its own two weeks at CloudWatch's default 5-minute period, whatever range the dashboard shows.
    assert (properties["start"], properties.get("period", 300), properties["sparkline"]) == (
        "-P14D",
        300,
        True,
    )
    assert f"alarm after {config.stale_after_hours}" in properties["title"]


def test_alarm_status_of_every_alarm(synthesized: Synthesized, env: str) -> None:
    t = synthesized.template_json(env)
    _, body = _dashboard(synthesized, env)
    (widget,) = [w for w in body["widgets"] if w["type"] == "alarm"]
    alarms = {f"<{logical_id}.Arn>" for logical_id in cfn.resources(t, "AWS::CloudWatch::Alarm")}
    # The four of backups, restores and dead letters, and the two of the weekly restore drill.
    assert len(alarms) == 6
    assert set(widget["properties"]["alarms"]) == alarms
