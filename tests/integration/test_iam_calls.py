"""The functions' roles allow every AWS call the handlers make, and the check would say so if not.

Every handler call in tests/integration is already checked (conftest's `handler_calls`); this module
adds the paths no other handler test takes (a plan and restores of chosen keys, a data file uploaded
in parts, an upload aborted), shows that one permission fewer fails exactly its calls, and pins how
the evaluator decides the role's conditions and unknown calls.
"""

import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import boto3
import pytest

import backup_handler
import restore_handler
from devtools.ledger_items import ledger_items
from devtools.sample_events import scheduled_event
from devtools.tables import create_table, load_items, scan_all
from ledger_backup.storage import stores
from ledger_backup.storage.s3_upload import MIN_PART_SIZE, S3MultipartUpload
from tests.integration.iam_calls import (
    ALLOWED,
    CONDITIONAL,
    DENIED,
    CallLog,
    DeployedRoles,
    FunctionRun,
    Permission,
    UnmappedCall,
    default_session,
    evaluate,
    permissions,
)
from tests.integration.incidents import bad_day

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_s3 import S3Client

pytestmark = pytest.mark.integration


SMALL_LEDGER = 110  # enough books for incidents.bad_day, few enough to load fast


def operations(log: CallLog, function: str) -> set[str]:
    return {call.operation for call in log.calls if call.run.function == function}


@pytest.fixture
def small_ledger(dynamodb: "DynamoDBClient", unique_name: str) -> str:
    name = f"ledger-{unique_name}"
    create_table(dynamodb, name, hash_key="book_id")
    load_items(dynamodb, name, list(ledger_items(SMALL_LEDGER)))
    return name


def test_a_plan_and_restores_of_chosen_keys(
    dynamodb: "DynamoDBClient",
    small_ledger: str,
    function_env: Callable[[str], None],
    context: Any,
    handler_calls: CallLog,
) -> None:
    """BatchGetItem (a plan of chosen keys), upsert and replace of keys given in the event."""
    ledger_table = small_ledger
    function_env(ledger_table)
    backup = backup_handler.handler(scheduled_event(), context)
    truth = bad_day(dynamodb, ledger_table, list(ledger_items(SMALL_LEDGER)))
    chosen = sorted(truth["missing"])[:2] + sorted(truth["changed"])[:2] + sorted(truth["extra"])[:1]
    event = {
        "s3_key": backup["s3_key"],
        "target_table": ledger_table,
        "keys": [{"book_id": {"S": book_id}} for book_id in chosen],
    }
    plan = restore_handler.handler({**event, "dry_run": True}, context)
    assert plan["changes"] == {"missing": 2, "changed": 2, "same": 0, "extra": 1}
    upserted = restore_handler.handler({**event, "mode": "upsert", "overwrite": True}, context)
    assert upserted["items_restored"] == 4
    replaced = restore_handler.handler({**event, "mode": "replace", "overwrite": True}, context)
    assert (replaced["items_restored"], replaced["items_deleted"]) == (4, 1)
    after = scan_all(dynamodb, ledger_table, "book_id")
    assert chosen[-1] not in after
    assert all(book_id in after for book_id in chosen[:2])
    assert {"dynamodb.BatchGetItem", "dynamodb.BatchWriteItem"} <= operations(handler_calls, "restore")


class ScanFailed(Exception):
    """DynamoDB failing in the middle of a backup (injected by the test)."""


def test_a_data_file_in_parts_and_an_upload_aborted(
    dynamodb: "DynamoDBClient",
    unique_name: str,
    function_env: Callable[[str], None],
    monkeypatch: pytest.MonkeyPatch,
    context: Any,
    handler_calls: CallLog,
) -> None:
    """Over one part: a multipart upload; a Scan failing after a part went up: the upload aborted."""
    table = f"big-{unique_name}"
    create_table(dynamodb, table)
    # Random bytes do not compress: 17 items of 350 KB make one data file over one part of S3's
    # minimum size (the functions' parts are 8 MiB; 5 MiB takes less data to pass).
    items = [{"pk": {"S": f"p{n:02d}"}, "blob": {"B": os.urandom(350_000)}} for n in range(17)]
    for start in range(0, len(items), 5):
        load_items(dynamodb, table, items[start : start + 5])
    monkeypatch.setattr(
        stores,
        "S3MultipartUpload",
        lambda client, bucket, key, _part_size: S3MultipartUpload(client, bucket, key, MIN_PART_SIZE),
    )
    function_env(table)
    monkeypatch.setenv("SCAN_SEGMENTS", "1")
    done = backup_handler.handler(scheduled_event(), context)
    assert done["item_count"] == 17
    assert {"s3.CreateMultipartUpload", "s3.UploadPart", "s3.CompleteMultipartUpload"} <= operations(
        handler_calls, "backup"
    )

    part_sent: list[bool] = []

    def fail_after_a_part(**_: Any) -> None:
        if part_sent:
            raise ScanFailed("injected: DynamoDB failed mid-backup")

    events = default_session().events
    events.register("after-call.s3.UploadPart", lambda **_: part_sent.append(True), unique_id="t.part")
    events.register("before-call.dynamodb.Scan", fail_after_a_part, unique_id="t.scan")
    try:
        with pytest.raises(ScanFailed):
            backup_handler.handler(scheduled_event(), context)
    finally:
        events.unregister("after-call.s3.UploadPart", unique_id="t.part")
        events.unregister("before-call.dynamodb.Scan", unique_id="t.scan")
    assert "s3.AbortMultipartUpload" in operations(handler_calls, "backup")


def test_one_permission_fewer_denies_exactly_its_calls(
    small_ledger: str,
    function_env: Callable[[str], None],
    context: Any,
    handler_calls: CallLog,
    deployed_roles: DeployedRoles,
) -> None:
    function_env(small_ledger)
    backup_handler.handler(scheduled_event(), context)
    assert not evaluate(handler_calls.calls, deployed_roles.policy).problems()

    verdicts = evaluate(handler_calls.calls, lambda run: deployed_roles.policy(run).without("s3:PutObject"))
    denied = {(p.action, p.resource) for _, _, p, _ in verdicts.with_verdict(DENIED)}
    puts = {
        (p.action, p.resource)
        for call in handler_calls.calls
        for p in call.permissions
        if p.action == "s3:PutObject"
    }
    assert len(puts) >= 4  # three data files and the manifest, at least
    assert denied == puts
    manifest = next(resource for _, resource in puts if resource.endswith("/manifest.json"))
    assert f"backup function: s3.PutObject needs s3:PutObject on {manifest}" in "\n".join(verdicts.problems())


def test_the_roles_conditions_and_resources_as_aws_decides_them(deployed_roles: DeployedRoles) -> None:
    """The synthesized restore role: listings only under the prefix, no write to a backup, no other table."""
    run = FunctionRun("restore", "ledger-x", "bucket-x", "backups/")
    policy = deployed_roles.policy(run)
    bucket, table = "arn:aws:s3:::bucket-x", "arn:aws:dynamodb:us-east-1:123456789012:table"

    def decide(action: str, resource: str, **context: str) -> str:
        return policy.decide(Permission(action, resource, tuple(context.items()))).verdict

    listing = "s3:ListBucket"
    assert decide(listing, bucket, **{"s3:prefix": "backups/ledger-x/"}) == ALLOWED
    assert decide(listing, bucket, **{"s3:prefix": "other/"}) == DENIED
    assert decide(listing, bucket) == ALLOWED  # StringLikeIfExists: a request without a prefix
    assert decide("s3:GetObject", f"{bucket}/backups/ledger-x/t/manifest.json") == ALLOWED
    assert decide("s3:PutObject", f"{bucket}/backups/ledger-x/t/manifest.json") == DENIED
    assert decide("s3:PutObject", f"{bucket}/backups/restores/r1/result.json") == ALLOWED
    assert decide("s3:GetObject", "arn:aws:s3:::other-bucket/backups/x") == DENIED
    assert decide("dynamodb:CreateTable", f"{table}/ledger-x-restored") == ALLOWED
    assert decide("dynamodb:CreateTable", f"{table}/payments") == DENIED
    assert decide("dynamodb:DeleteTable", f"{table}/ledger-x-restored") == CONDITIONAL  # the tag is not seen
    assert decide("dynamodb:DeleteTable", f"{table}/payments") == DENIED
    own = "arn:aws:lambda:us-east-1:123456789012:function:ledger-backup-iam-restore"
    assert decide("lambda:InvokeFunction", own) == ALLOWED
    assert decide("lambda:InvokeFunction", own.replace("-restore", "-backup")) == DENIED


TABLE = "arn:aws:dynamodb:us-east-1:123456789012:table/"
FUNCTION = "arn:aws:lambda:us-east-1:123456789012:function:"


@pytest.mark.parametrize(
    ("operation", "params", "expected"),
    [
        (
            "dynamodb.BatchWriteItem",
            {"RequestItems": {"a": [], "b": []}},
            [("dynamodb:BatchWriteItem", f"{TABLE}a"), ("dynamodb:BatchWriteItem", f"{TABLE}b")],
        ),
        ("dynamodb.Scan", {"TableName": "a", "IndexName": "i"}, [("dynamodb:Scan", f"{TABLE}a/index/i")]),
        (
            "dynamodb.CreateTable",
            {"TableName": "a", "Tags": [{"Key": "k", "Value": "v"}]},
            [("dynamodb:CreateTable", f"{TABLE}a"), ("dynamodb:TagResource", f"{TABLE}a")],
        ),
        ("dynamodb.DescribeTable", {"TableName": f"{TABLE}a"}, [("dynamodb:DescribeTable", f"{TABLE}a")]),
        ("s3.HeadObject", {"Bucket": "b", "Key": "k/1"}, [("s3:GetObject", "arn:aws:s3:::b/k/1")]),
        (
            "s3.UploadPart",
            {"Bucket": "b", "Key": "k", "UploadId": "u"},
            [("s3:PutObject", "arn:aws:s3:::b/k")],
        ),
        (
            "s3.DeleteObjects",
            {"Bucket": "b", "Delete": {"Objects": [{"Key": "x"}, {"Key": "y"}]}},
            [("s3:DeleteObject", "arn:aws:s3:::b/x"), ("s3:DeleteObject", "arn:aws:s3:::b/y")],
        ),
        ("s3.ListObjectsV2", {"Bucket": "b", "Prefix": "p/"}, [("s3:ListBucket", "arn:aws:s3:::b")]),
        ("lambda.Invoke", {"FunctionName": "f"}, [("lambda:InvokeFunction", f"{FUNCTION}f")]),
        (
            "lambda.Invoke",
            {"FunctionName": "123456789012:function:f", "Qualifier": "live"},
            [("lambda:InvokeFunction", f"{FUNCTION}f:live")],
        ),
    ],
)
def test_calls_map_to_the_actions_and_resources_aws_authorizes(
    operation: str, params: dict[str, Any], expected: list[tuple[str, str]]
) -> None:
    assert [(p.action, p.resource) for p in permissions(operation, params, "us-east-1")] == expected


def test_a_listing_carries_its_prefix_for_the_condition() -> None:
    (listing,) = permissions("s3.ListObjectsV2", {"Bucket": "b", "Prefix": "backups/t/"}, "us-east-1")
    assert listing.context == (("s3:prefix", "backups/t/"),)
    (whole,) = permissions("s3.ListObjectsV2", {"Bucket": "b"}, "us-east-1")
    assert whole.context == ()


@pytest.mark.parametrize(
    ("operation", "params"),
    [
        ("s3.CopyObject", {"Bucket": "b", "Key": "k", "CopySource": "b/j"}),
        ("s3.GetObject", {"Bucket": "b", "Key": "k", "VersionId": "v1"}),
        ("dynamodb.Query", {"TableName": "a"}),
    ],
)
def test_a_call_the_table_does_not_know_is_refused(operation: str, params: dict[str, Any]) -> None:
    with pytest.raises(UnmappedCall):
        permissions(operation, params, "us-east-1")


def test_an_unknown_call_made_while_a_function_runs_fails_the_check(
    s3: "S3Client", bucket: str, deployed_roles: DeployedRoles
) -> None:
    """A real call through botocore, recorded by the event handler: unmapped, so reported, never passed."""
    s3.put_object(Bucket=bucket, Key="backups/a", Body=b"x")
    log = CallLog()
    with log.running(FunctionRun("backup", "ledger-x", bucket, "backups/")):
        boto3.client("s3").copy_object(
            Bucket=bucket, Key="backups/b", CopySource={"Bucket": bucket, "Key": "backups/a"}
        )
    problems = evaluate(log.calls, deployed_roles.policy).problems()
    assert problems == [
        "backup function: s3.CopyObject is not in iam_calls.ACTIONS: add its IAM action and resource"
    ]
