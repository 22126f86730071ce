"""Each role holds exactly the IAM permissions its handler uses, and nothing wider."""

import fnmatch
import json
from pathlib import Path

from ledger_backup.restore.journal import RestoreJournal
from ledger_backup.storage.stores import LocalStore
from tests.infra import cfn
from tests.infra.conftest import ADOPTED, Synthesized, ids

# The API calls each handler makes (the engine contract), spelled out here rather than imported from infra.
BACKUP_TABLE_ACTIONS = ("dynamodb:DescribeTable", "dynamodb:DescribeTimeToLive", "dynamodb:Scan")
# Multipart data files; checkpoints put, read back (GET/HEAD) and deleted when a backup continues.
BACKUP_OBJECT_ACTIONS = ("s3:AbortMultipartUpload", "s3:DeleteObject", "s3:GetObject", "s3:PutObject")
# Pruning reads Object Lock before deleting: the bucket's default retention, each object's retention and
# legal hold (HeadObject shows them only with these two).
PRUNE_LOCK_BUCKET_ACTIONS = ("s3:GetBucketObjectLockConfiguration",)
PRUNE_LOCK_OBJECT_ACTIONS = ("s3:GetObjectLegalHold", "s3:GetObjectRetention")
RESTORE_TABLE_ACTIONS = (
    "dynamodb:BatchGetItem",
    "dynamodb:BatchWriteItem",
    "dynamodb:CreateTable",
    "dynamodb:DescribeTable",
    "dynamodb:DescribeImport",
    "dynamodb:DescribeTimeToLive",
    "dynamodb:ImportTable",
    "dynamodb:PutItem",
    "dynamodb:Scan",
    "dynamodb:TagResource",
    "dynamodb:UpdateTimeToLive",
)
# Restore method "import": ImportTable's CloudWatch log, under /aws-dynamodb/ only.
IMPORT_LOG_ACTIONS = (
    "logs:CreateLogGroup",
    "logs:CreateLogStream",
    "logs:DescribeLogGroups",
    "logs:DescribeLogStreams",
    "logs:PutLogEvents",
    "logs:PutRetentionPolicy",
)
RESTORE_OBJECT_ACTIONS = ("s3:GetObject",)
# Restore progress under <prefix>restores/: checkpoints, result.json put (IfNoneMatch); checkpoints deleted;
# plan reports under restores/reports/, multipart when large.
RESTORE_PROGRESS_ACTIONS = ("s3:AbortMultipartUpload", "s3:DeleteObject", "s3:PutObject")
# A table a restore created and must remove again (refused input): only with the tag it was created with.
CREATED_BY_RESTORE = json.dumps(
    {"StringEquals": {"aws:ResourceTag/ledger-backup:created-by": "restore"}}, sort_keys=True
)
XRAY = ("xray:PutTelemetryRecords", "xray:PutTraceSegments")
LOGS = ("logs:CreateLogStream", "logs:PutLogEvents")
DEAD_LETTER = ("sqs:GetQueueAttributes", "sqs:GetQueueUrl", "sqs:SendMessage")


def table_arn(synthesized: Synthesized, env: str) -> str:
    """How the ledger table's ARN appears in policies: created (GetAtt) or adopted (pinned ARN)."""
    if env == ADOPTED.name:
        return f"arn:aws:dynamodb:eu-west-1:123456789012:table/{ADOPTED.table_name}"
    t = synthesized.template_json(env)
    return f"<{cfn.only(t, 'AWS::DynamoDB::Table')}.Arn>"


def own_function_arn(synthesized: Synthesized, env: str, kind: str) -> str:
    """The unqualified ARN of a function as its own policy names it (built from the name, no GetAtt)."""
    name = f"{synthesized.configs[env].function_name_prefix}-{kind}"
    if env == ADOPTED.name:
        return f"arn:aws:lambda:eu-west-1:123456789012:function:{name}"
    return f"arn:<AWS::Partition>:lambda:<AWS::Region>:<AWS::AccountId>:function:{name}"


def role_permissions(synthesized: Synthesized, env: str, kind: str) -> set[cfn.Permission]:
    """Everything the role of the backup or restore function is allowed, flattened."""
    t = synthesized.template_json(env)
    return cfn.permissions(cfn.role_statements(t, ids(synthesized, env)[f"{kind}_role"]))


def granted_to_both_functions(synthesized: Synthesized, env: str, kind: str) -> set[cfn.Permission]:
    """What each of the two roles needs besides its own work.

    Its log group, listing under the prefix, X-Ray, the dead-letter queue, and invoking itself to continue.
    """
    config = synthesized.configs[env]
    i = ids(synthesized, env)
    bucket = f"<{i['bucket']}.Arn>"
    list_condition = json.dumps(
        {"StringLikeIfExists": {"s3:prefix": [f"{config.backup_prefix}*"]}}, sort_keys=True
    )
    return (
        cfn.grant(LOGS, f"<{i[f'{kind}_logs']}.Arn>")
        | cfn.grant(["s3:ListBucket"], bucket, list_condition)
        | cfn.grant(XRAY, "*")
        | cfn.grant(DEAD_LETTER, f"<{i['queue']}.Arn>")
        | cfn.grant(["lambda:InvokeFunction"], own_function_arn(synthesized, env, kind))
    )


def test_backup_role_has_exactly_the_permissions_the_handler_uses(synthesized: Synthesized, env: str) -> None:
    config = synthesized.configs[env]
    bucket = f"<{ids(synthesized, env)['bucket']}.Arn>"
    expected = (
        granted_to_both_functions(synthesized, env, "backup")
        | cfn.grant(BACKUP_TABLE_ACTIONS, table_arn(synthesized, env))
        | cfn.grant(BACKUP_OBJECT_ACTIONS, f"{bucket}/{config.backup_prefix}*")
        | cfn.grant(PRUNE_LOCK_BUCKET_ACTIONS, bucket)
        | cfn.grant(PRUNE_LOCK_OBJECT_ACTIONS, f"{bucket}/{config.backup_prefix}*")
    )
    assert role_permissions(synthesized, env, "backup") == expected


def test_backup_role_can_prune_backups_but_never_delete_a_restore_journal(
    synthesized: Synthesized, env: str, tmp_path: Path
) -> None:
    """DeleteObject (pruning) covers the table's backups; an explicit Deny keeps the restores' folder."""
    config = synthesized.configs[env]
    i = ids(synthesized, env)
    statements = cfn.role_statements(synthesized.template_json(env), i["backup_role"])
    [(action, denied, _)] = cfn.permissions(statements, effect="Deny")
    assert action == "s3:DeleteObject"
    deny_pattern = denied.removeprefix(f"<{i['bucket']}.Arn>/")
    [allow_pattern] = {
        r.removeprefix(f"<{i['bucket']}.Arn>/") for a, r, _ in cfn.permissions(statements) if a == action
    }
    folder = RestoreJournal(LocalStore(tmp_path), config.backup_prefix).restore_folder(
        "20270101T000000Z-0a1b"
    )
    for journal_key in (f"{folder}checkpoint-000000000025-invocation1.json", f"{folder}result.json"):
        assert fnmatch.fnmatchcase(journal_key, deny_pattern)
    backup = f"{config.backup_prefix}{config.table_name}/2027-01-01T03-00-00.000Z/"
    for backup_key in (f"{backup}manifest.json", f"{backup}data/segment-0000-part-0000.json.gz"):
        assert fnmatch.fnmatchcase(backup_key, allow_pattern)
        assert not fnmatch.fnmatchcase(backup_key, deny_pattern)


def test_restore_role_has_exactly_the_permissions_the_handler_uses(
    synthesized: Synthesized, env: str
) -> None:
    config = synthesized.configs[env]
    bucket = f"<{ids(synthesized, env)['bucket']}.Arn>"
    if env == ADOPTED.name:
        tables = f"arn:aws:dynamodb:eu-west-1:123456789012:table/{config.table_name}*"
        import_logs = "arn:aws:logs:eu-west-1:123456789012:log-group:/aws-dynamodb/*"
    else:
        tables = f"arn:<AWS::Partition>:dynamodb:<AWS::Region>:<AWS::AccountId>:table/{config.table_name}*"
        import_logs = "arn:<AWS::Partition>:logs:<AWS::Region>:<AWS::AccountId>:log-group:/aws-dynamodb/*"
    expected = (
        granted_to_both_functions(synthesized, env, "restore")
        | cfn.grant(RESTORE_OBJECT_ACTIONS, f"{bucket}/{config.backup_prefix}*")
        | cfn.grant(RESTORE_PROGRESS_ACTIONS, f"{bucket}/{config.backup_prefix}restores/*")
        | cfn.grant(RESTORE_TABLE_ACTIONS, tables)
        | cfn.grant(["dynamodb:DeleteTable"], tables, CREATED_BY_RESTORE)
        | cfn.grant(IMPORT_LOG_ACTIONS, import_logs)
    )
    assert role_permissions(synthesized, env, "restore") == expected


def test_restore_writes_and_deletes_only_its_own_progress(synthesized: Synthesized, tmp_path: Path) -> None:
    """Put/Delete cover the folder the restore code keeps its progress in, and no backup object."""
    config = synthesized.configs[ADOPTED.name]
    t = synthesized.template_json(ADOPTED.name)
    i = ids(synthesized, ADOPTED.name)
    statements = cfn.role_statements(t, i["restore_role"])
    writes = {r for a, r, _ in cfn.permissions(statements) if a in RESTORE_PROGRESS_ACTIONS}
    [pattern] = writes
    key_pattern = pattern.removeprefix(f"<{i['bucket']}.Arn>/")
    # The folder the Lambda's restore journal actually uses for this prefix.
    journal = RestoreJournal(LocalStore(tmp_path), config.backup_prefix)
    folder = journal.restore_folder("20270101T000000Z-0a1b")
    assert fnmatch.fnmatchcase(f"{folder}checkpoint-000000000025-invocation1.json", key_pattern)
    assert fnmatch.fnmatchcase(f"{folder}result.json", key_pattern)
    backup = f"{config.backup_prefix}{config.table_name}/2027-01-01T03-00-00.000Z/"
    assert not fnmatch.fnmatchcase(f"{backup}manifest.json", key_pattern)
    assert not fnmatch.fnmatchcase(f"{backup}data/segment-0000-part-0000.json.gz", key_pattern)


def test_restore_may_write_only_the_ledger_and_tables_named_after_it(synthesized: Synthesized) -> None:
    name = synthesized.configs["prod"].table_name
    t = synthesized.template_json("prod")
    statements = cfn.role_statements(t, ids(synthesized, "prod")["restore_role"])
    writes = {
        r
        for a, r, _ in cfn.permissions(statements)
        if a in ("dynamodb:BatchWriteItem", "dynamodb:CreateTable")
    }
    [pattern] = writes
    arn = pattern.replace("<AWS::Partition>", "aws").replace("<AWS::Region>", "eu-west-1")
    arn = arn.replace("<AWS::AccountId>", "123456789012")

    def allowed(table: str) -> bool:
        return fnmatch.fnmatchcase(f"arn:aws:dynamodb:eu-west-1:123456789012:table/{table}", arn)

    assert allowed(name)
    assert allowed(f"{name}-restored")
    assert not allowed("some-other-table")
    assert not allowed(f"x-{name}")


def test_roles_have_no_managed_policies_and_trust_only_lambda(synthesized: Synthesized, env: str) -> None:
    t = synthesized.template_json(env)
    roles = cfn.resources(t, "AWS::IAM::Role")
    assert len(roles) == 2
    for role in roles.values():
        properties = role["Properties"]
        assert "ManagedPolicyArns" not in properties
        assert properties["AssumeRolePolicyDocument"]["Statement"] == [
            {"Action": "sts:AssumeRole", "Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}}
        ]


def test_no_wildcard_actions_and_star_resources_only_for_xray(synthesized: Synthesized, env: str) -> None:
    t = synthesized.template_json(env)
    statements = [
        s
        for p in cfn.resources(t, "AWS::IAM::Policy").values()
        for s in p["Properties"]["PolicyDocument"]["Statement"]
    ]
    for action, resource, _ in cfn.permissions(statements):
        assert "*" not in action
        if resource == "*":
            assert action in XRAY  # X-Ray has no resource-level permissions
