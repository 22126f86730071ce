"""The alarms (failed backup or restore, no recent backup, dead letters) and their encrypted SNS topic."""

import pytest
from aws_cdk.assertions import Match

from tests.infra import cfn
from tests.infra.conftest import ADOPTED, CREATED_TABLE_ENVS, Synthesized, ids, template


def test_no_successful_backup_alarm(synthesized: Synthesized, env: str) -> None:
    config = synthesized.configs[env]
    template(synthesized, env).has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {
            "Namespace": "LedgerBackup",
            "MetricName": "BackupSucceeded",
            "Dimensions": [{"Name": "service", "Value": "ledger-backup"}],
            "Statistic": "Sum",
            "Period": 3600,
            "EvaluationPeriods": 26,
            "DatapointsToAlarm": 26,
            "Threshold": 1,
            "ComparisonOperator": "LessThanThreshold",
            "TreatMissingData": "breaching",
            "AlarmName": f"{config.function_name_prefix}-no-successful-backup",
            "AlarmActions": [{"Ref": ids(synthesized, env)["topic"]}],
        },
    )


@pytest.mark.parametrize(
    ("function", "failed_metric"), [("backup", "BackupFailed"), ("restore", "RestoreFailed")]
)
def test_errors_alarm_counts_lambda_errors_and_the_handlers_failures(
    synthesized: Synthesized, env: str, function: str, failed_metric: str
) -> None:
    i = ids(synthesized, env)
    template(synthesized, env).has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {
            "AlarmName": f"{synthesized.configs[env].function_name_prefix}-{function}-errors",
            "ComparisonOperator": "GreaterThanOrEqualToThreshold",
            "Threshold": 1,
            "EvaluationPeriods": 1,
            "TreatMissingData": "notBreaching",
            "AlarmActions": [{"Ref": i["topic"]}],
            "Metrics": Match.array_with(
                [
                    Match.object_like(
                        {"Expression": "FILL(errors, 0) + FILL(failed, 0)", "ReturnData": True}
                    ),
                    Match.object_like(
                        {
                            "Id": "errors",
                            "MetricStat": {
                                "Metric": {
                                    "Namespace": "AWS/Lambda",
                                    "MetricName": "Errors",
                                    "Dimensions": [{"Name": "FunctionName", "Value": {"Ref": i[function]}}],
                                },
                                "Period": 300,
                                "Stat": "Sum",
                            },
                        }
                    ),
                    Match.object_like(
                        {
                            "Id": "failed",
                            "MetricStat": {
                                "Metric": {
                                    "Namespace": "LedgerBackup",
                                    "MetricName": failed_metric,
                                    "Dimensions": [{"Name": "service", "Value": "ledger-backup"}],
                                },
                                "Period": 300,
                                "Stat": "Sum",
                            },
                        }
                    ),
                ]
            ),
        },
    )


def test_restore_errors_alarm_says_what_it_catches(synthesized: Synthesized, env: str) -> None:
    prefix = synthesized.configs[env].function_name_prefix
    (alarm,) = [
        a["Properties"]
        for a in cfn.resources(synthesized.template_json(env), "AWS::CloudWatch::Alarm").values()
        if a["Properties"]["AlarmName"] == f"{prefix}-restore-errors"
    ]
    for named in ("RestoreFailed", "max_invocations", "InvocationLimitReached", "retries", '{"resume"'):
        assert named in alarm["AlarmDescription"], named


def test_dead_letters_alarm_and_every_alarm_notifies_the_topic(synthesized: Synthesized, env: str) -> None:
    i = ids(synthesized, env)
    t = synthesized.template_json(env)
    alarms = cfn.resources(t, "AWS::CloudWatch::Alarm")
    assert len(alarms) == 6  # with the two restore drill alarms (tests/infra/test_options.py)
    assert all(a["Properties"]["AlarmActions"] == [{"Ref": i["topic"]}] for a in alarms.values())
    template(synthesized, env).has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {
            "Namespace": "AWS/SQS",
            "MetricName": "ApproximateNumberOfMessagesVisible",
            "Dimensions": [{"Name": "QueueName", "Value": {"Fn::GetAtt": [i["queue"], "QueueName"]}}],
            "ComparisonOperator": "GreaterThanOrEqualToThreshold",
            "Threshold": 1,
        },
    )


def test_alarm_topic_is_encrypted_and_cloudwatch_may_publish(synthesized: Synthesized, env: str) -> None:
    i = ids(synthesized, env)
    t = template(synthesized, env)
    t.has_resource_properties("AWS::SNS::Topic", {"KmsMasterKeyId": {"Fn::GetAtt": [i["key"], "Arn"]}})
    t.has_resource_properties("AWS::KMS::Key", {"EnableKeyRotation": True})
    cloudwatch = Match.object_like({"Effect": "Allow", "Principal": {"Service": "cloudwatch.amazonaws.com"}})
    t.has_resource_properties("AWS::KMS::Key", {"KeyPolicy": {"Statement": Match.array_with([cloudwatch])}})
    t.has_resource_properties(
        "AWS::SNS::TopicPolicy",
        {
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {"Effect": "Deny", "Condition": {"Bool": {"aws:SecureTransport": "false"}}}
                        ),
                        Match.object_like(
                            {
                                "Effect": "Allow",
                                "Action": "sns:Publish",
                                "Principal": {"Service": "cloudwatch.amazonaws.com"},
                            }
                        ),
                    ]
                )
            }
        },
    )


def test_email_subscription_only_when_configured(synthesized: Synthesized) -> None:
    template(synthesized, ADOPTED.name).has_resource_properties(
        "AWS::SNS::Subscription", {"Protocol": "email", "Endpoint": "ledger-oncall@example.com"}
    )
    for env_name in CREATED_TABLE_ENVS:
        if synthesized.configs[env_name].alarm_email is None:
            template(synthesized, env_name).resource_count_is("AWS::SNS::Subscription", 0)
