"""Restore events that are wrong or hostile are refused before any write, with one short clear message.

Every case runs the real restore handler against a real backup and then checks that
nothing changed: no table created, the source table untouched, no object written. A
refusal must not echo a huge input back (it ends up in logs and in the caller's error).
"""

import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import boto3
import pytest

import backup_handler
import restore_handler
from devtools.lambda_context import FakeLambdaContext
from devtools.ledger_items import ledger_items
from devtools.local_aws import LocalAws
from devtools.tables import create_table, drop_table, load_items
from ledger_backup.backup.progress import BackupProgress, SegmentProgress
from ledger_backup.backup.run import run_backup
from ledger_backup.errors import CorruptBackup, InvalidRequest
from ledger_backup.restore.journal import RestoreProgress
from ledger_backup.schema import key_schema_from_json
from ledger_backup.storage.stores import S3Store

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_s3 import S3Client

pytestmark = pytest.mark.integration

BOOKS = 30
MAX_MESSAGE = 300
HUGE = 1024 * 1024


@dataclass(frozen=True)
class World:
    """A ledger table with one complete backup, and a second bucket holding a copy of it."""

    dynamodb: "DynamoDBClient"
    s3: "S3Client"
    table: str
    bucket: str
    other_bucket: str
    manifest_key: str

    def snapshot(self) -> tuple[list[str], int, list[str]]:
        """Tables, the source's item count and every object: what a refused request must not change."""
        tables = self.dynamodb.list_tables()["TableNames"]
        count = self.dynamodb.scan(TableName=self.table, Select="COUNT")["Count"]
        objects = [
            f"{bucket}/{o['Key']}"
            for bucket in (self.bucket, self.other_bucket)
            for o in self.s3.list_objects_v2(Bucket=bucket).get("Contents", [])
        ]
        return sorted(tables), count, sorted(objects)


@pytest.fixture(scope="module")
def world(local_services: LocalAws) -> Iterator[World]:
    dynamodb, s3 = boto3.client("dynamodb"), boto3.client("s3")
    table = f"ledger-hostile-{os.getpid()}"
    bucket, other_bucket = f"hostile-{os.getpid()}", f"someone-elses-{os.getpid()}"
    create_table(dynamodb, table, hash_key="book_id")
    load_items(dynamodb, table, list(ledger_items(BOOKS)))
    for name in (bucket, other_bucket):
        s3.create_bucket(Bucket=name)
    backup = run_backup(dynamodb, S3Store(s3, bucket), table)
    for entry in s3.list_objects_v2(Bucket=bucket)["Contents"]:
        s3.copy_object(
            Bucket=other_bucket, Key=entry["Key"], CopySource={"Bucket": bucket, "Key": entry["Key"]}
        )
    yield World(dynamodb, s3, table, bucket, other_bucket, backup.manifest_key)
    drop_table(dynamodb, table)


@pytest.fixture
def nothing_changes(world: World, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The functions deployed for the world's table; after the test, check that nothing changed."""
    monkeypatch.setenv("TABLE_NAME", world.table)
    monkeypatch.setenv("BACKUP_BUCKET", world.bucket)
    monkeypatch.setenv("BACKUP_PREFIX", "backups/")
    before = world.snapshot()
    yield
    assert world.snapshot() == before, "a refused request changed something"


@pytest.fixture
def restore(nothing_changes: None) -> Callable[[Any], dict[str, Any]]:
    """The restore handler, as Lambda calls it."""

    def invoke(event: Any) -> dict[str, Any]:
        result: dict[str, Any] = restore_handler.handler(event, FakeLambdaContext())
        return result

    return invoke


def refused(restore: Any, event: Any, match: str) -> str:
    """The refusal's message, checked: an InvalidRequest that says `match`, short, on one line."""
    with pytest.raises(InvalidRequest) as caught:
        restore(event)
    message = str(caught.value)
    assert match in message
    assert len(message) < MAX_MESSAGE, f"{len(message)} characters: {message[:200]}..."
    assert "\n" not in message
    return message


def event(world: World, **fields: Any) -> dict[str, Any]:
    """A valid restore event with some fields replaced (a value of ... removes the field)."""
    base: dict[str, Any] = {"s3_key": world.manifest_key, "target_table": f"{world.table}-restored"}
    base.update(fields)
    return {k: v for k, v in base.items() if v is not ...}


NOT_OBJECTS = [None, [], ["s3_key"], "restore", "", 42, 3.5, True]


@pytest.mark.parametrize("payload", NOT_OBJECTS, ids=[repr(p) for p in NOT_OBJECTS])
def test_an_event_that_is_not_an_object(restore: Any, payload: Any) -> None:
    refused(restore, payload, f"the event must be a JSON object, not {type(payload).__name__}")


WRONG_FIELDS = {
    "unknown field": ({"overwrit": True}, "overwrit: Extra inputs are not permitted"),
    "unknown nested field": (
        {"key_schema": [{"AttributeName": "book_id", "KeyType": "HASH", "AttributeType": "S", "x": 1}]},
        "key_schema.0.x: Extra inputs are not permitted",
    ),
    "missing s3_key": ({"s3_key": ...}, "s3_key: Field required"),
    "missing target_table": ({"target_table": ...}, "target_table: Field required"),
    "s3_key a number": ({"s3_key": 5}, "s3_key: Input should be a valid string"),
    "s3_key null": ({"s3_key": None}, "s3_key: Input should be a valid string"),
    "s3_key an object": ({"s3_key": {"$ref": "backups/"}}, "s3_key: Input should be a valid string"),
    "s3_key a list": ({"s3_key": ["backups/a", "backups/b"]}, "s3_key: Input should be a valid string"),
    "s3_key nested 500 deep": ({"s3_key": json.loads("[" * 500 + "]" * 500)}, "s3_key: Input should be"),
    "s3_key empty": ({"s3_key": ""}, "s3_key: String should have at least 1 character"),
    "target_table null": ({"target_table": None}, "target_table: Input should be a valid string"),
    "target_table an object": (
        {"target_table": {"name": "x"}},
        "target_table: Input should be a valid string",
    ),
    "target_table with a path": ({"target_table": "ledger/../payments"}, "target_table: String should match"),
    "target_table lookalike hyphen": (
        {"target_table": "ledger\u2010restored"},
        "target_table: String should",
    ),
    "create_table a string": ({"create_table": "false"}, "create_table: Input should be a valid boolean"),
    "create_table null": ({"create_table": None}, "create_table: Input should be a valid boolean"),
    "overwrite 1": ({"overwrite": 1}, "overwrite: Input should be a valid boolean"),
    "overwrite 1.0": ({"overwrite": 1.0}, "overwrite: Input should be a valid boolean"),
    "dry_run a string": ({"dry_run": "yes"}, "dry_run: Input should be a valid boolean"),
    "bucket a number": ({"bucket": 7}, "bucket: Input should be a valid string"),
    "bucket not a bucket name": ({"bucket": "Not_A_Bucket"}, "bucket: String should match pattern"),
    "key_schema a string": ({"key_schema": "book_id"}, "key_schema: Input should be a valid list"),
    "key_schema two hash keys": (
        {
            "key_schema": [
                {"AttributeName": "a", "KeyType": "HASH", "AttributeType": "S"},
                {"AttributeName": "b", "KeyType": "HASH", "AttributeType": "S"},
            ]
        },
        "needs exactly one HASH key",
    ),
    "key_schema bad type": (
        {"key_schema": [{"AttributeName": "a", "KeyType": "HASH", "AttributeType": "BOOL"}]},
        "key_schema.0.AttributeType: Input should be 'S', 'N' or 'B'",
    ),
    "every field wrong at once": (
        {"s3_key": 1, "target_table": 2, "create_table": "x", "overwrite": "y"},
        "s3_key: Input should be a valid string; target_table: Input should be a valid string",
    ),
}


@pytest.mark.parametrize(("fields", "match"), WRONG_FIELDS.values(), ids=WRONG_FIELDS.keys())
def test_wrong_fields_are_named(world: World, restore: Any, fields: dict[str, Any], match: str) -> None:
    message = refused(restore, event(world, **fields), match)
    assert message.startswith("invalid RestoreRequest: ")


HUGE_VALUES = {
    "s3_key": ({"s3_key": "backups/" + "a" * HUGE}, "s3_key: String should have at most 1024 characters"),
    "target_table": ({"target_table": "ledger-" + "x" * HUGE}, "target_table: String should match pattern"),
    "bucket": ({"bucket": "b" * HUGE}, "bucket: String should match pattern"),
    "key attribute name": (
        {"key_schema": [{"AttributeName": "k" * HUGE, "KeyType": "HASH", "AttributeType": "S"}]},
        "key_schema.0.AttributeName: String should have at most 255 characters",
    ),
}


@pytest.mark.parametrize(("fields", "match"), HUGE_VALUES.values(), ids=HUGE_VALUES.keys())
def test_huge_values_are_refused_without_being_echoed(
    world: World, restore: Any, fields: dict[str, Any], match: str
) -> None:
    refused(restore, event(world, **fields), match)


@pytest.mark.parametrize(
    "extra",
    [{"x" * HUGE: 1}, {f"field{n}": n for n in range(5000)}],
    ids=["one 1 MB field name", "5000 unknown fields"],
)
def test_unknown_field_names_are_not_echoed_at_length(
    world: World, restore: Any, extra: dict[str, Any]
) -> None:
    refused(restore, {**event(world), **extra}, "Extra inputs are not permitted")


OUTSIDE_THE_PREFIX = [
    "secrets/manifest.json",
    "/backups/t/2026/manifest.json",
    "backups/../secrets/manifest.json",
    "backups/ledger/../../secrets/manifest.json",
    "backups/ledger/2026/../../../manifest.json",
    "../backups/t/manifest.json",
    "Backups/t/manifest.json",
    "backups",
    "backups-private/t/manifest.json",
]


@pytest.mark.parametrize("s3_key", OUTSIDE_THE_PREFIX)
def test_keys_outside_the_backup_prefix(world: World, restore: Any, s3_key: str) -> None:
    refused(restore, event(world, s3_key=s3_key), "is outside the backup prefix 'backups/'")


def test_a_traversal_key_is_refused_even_when_it_resolves_to_a_real_backup(
    world: World, restore: Any
) -> None:
    folder = world.manifest_key.removeprefix("backups/")
    refused(restore, event(world, s3_key=f"backups/x/../{folder}"), "outside the backup prefix")


@pytest.mark.parametrize(
    "target",
    ["payments", "ledge", "restored-{table}", "{upper}-restored", "x{table}"],
)
def test_target_tables_the_function_may_not_write(world: World, restore: Any, target: str) -> None:
    name = target.format(table=world.table, upper=world.table.upper())
    message = refused(restore, event(world, target_table=name), f"target_table {name!r} is not allowed")
    assert f"restores only into {world.table!r}" in message


def test_a_refused_overwrite_of_the_live_table_leaves_it_alone(world: World, restore: Any) -> None:
    """The ledger itself is an allowed target, but never overwritten without `overwrite`."""
    with pytest.raises(Exception, match="already holds items; set overwrite to true"):
        restore(event(world, target_table=world.table))


def test_a_bucket_other_than_the_functions_own_is_refused(world: World, restore: Any) -> None:
    target = f"{world.table}-restored"
    try:
        refused(restore, event(world, bucket=world.other_bucket), "bucket")
    finally:
        if target in world.dynamodb.list_tables()["TableNames"]:  # what the hole lets through today
            drop_table(world.dynamodb, target)


@pytest.mark.usefixtures("nothing_changes")
@pytest.mark.parametrize(
    ("continuation", "match"),
    [
        ({"checkpoint_key": "backups/payments/2026/progress/c.json"}, "is not one of this table's backups"),
        (
            {"checkpoint_key": "backups/{table}/../payments/progress/c.json"},
            "is not one of this table's backups",
        ),
        ({"checkpoint_key": 5}, "continuation.checkpoint_key: Input should be a valid string"),
        ({"checkpoint_key": "k" * HUGE}, "continuation.checkpoint_key: String should have at most 1024"),
        ({"checkpoint_key": "k", "extra": 1}, "continuation.extra: Extra inputs are not permitted"),
        ("backups/x", "continuation: Input should be a valid dictionary"),
    ],
    ids=["other table", "traversal", "a number", "huge", "extra field", "a string"],
)
def test_hostile_continuation_events_for_the_backup_function(
    world: World, continuation: Any, match: str
) -> None:
    """The backup function's self-invocation event can be forged too; it is checked the same way."""
    if isinstance(continuation, dict) and isinstance(continuation.get("checkpoint_key"), str):
        continuation = {
            **continuation,
            "checkpoint_key": continuation["checkpoint_key"].format(table=world.table),
        }
    with pytest.raises(InvalidRequest) as caught:
        backup_handler.handler({"continuation": continuation}, FakeLambdaContext())
    assert match in str(caught.value)
    assert len(str(caught.value)) < MAX_MESSAGE


RID_FORBIDDEN_TARGET = "20261125T030000Z-0000000a"
RID_OUTSIDE_SOURCE = "20261125T030000Z-0000000b"


@dataclass(frozen=True)
class Forged:
    """Hand-written checkpoints that would restore into or from what the function may not touch.

    Each would write if resumed unchecked: both targets exist, and the outside source is a real,
    complete copy of the backup.
    """

    world: World
    targets: tuple[str, str]  # the forbidden table, and an allowed one the outside source would fill
    checkpoints: dict[str, str]  # restore id -> checkpoint key

    def snapshot(self) -> tuple[tuple[list[str], int, list[str]], list[int]]:
        scan = self.world.dynamodb.scan
        return self.world.snapshot(), [scan(TableName=t, Select="COUNT")["Count"] for t in self.targets]


def restore_checkpoint(restore_id: str, source_key: str, target_table: str, bucket: str) -> bytes:
    progress = RestoreProgress(
        restore_id=restore_id,
        source_key=source_key,
        source_location=f"s3://{bucket}/{source_key}",
        target_table=target_table,
        schema=key_schema_from_json([{"AttributeName": "book_id", "KeyType": "HASH", "AttributeType": "S"}]),
        schema_from="backup",
        table_created=False,
        expected_items=BOOKS,
        started_at="2026-11-25T03:00:00+00:00",
        invocations=1,
    )
    return json.dumps(progress.to_json()).encode("utf-8")


@pytest.fixture
def forged(world: World, monkeypatch: pytest.MonkeyPatch) -> Iterator[Forged]:
    """The forged checkpoints in the function's own journal; after the test, nothing else changed."""
    monkeypatch.setenv("TABLE_NAME", world.table)
    monkeypatch.setenv("BACKUP_BUCKET", world.bucket)
    monkeypatch.setenv("BACKUP_PREFIX", "backups/")
    targets = (f"payments-{os.getpid()}", f"{world.table}-resumed")
    for target in targets:
        create_table(world.dynamodb, target, hash_key="book_id")
    outside = f"private-{os.getpid()}/"
    added = []
    for entry in world.s3.list_objects_v2(Bucket=world.bucket, Prefix=f"backups/{world.table}/")["Contents"]:
        added.append(outside + entry["Key"])
        world.s3.copy_object(
            Bucket=world.bucket, Key=added[-1], CopySource={"Bucket": world.bucket, "Key": entry["Key"]}
        )
    cases = {
        RID_FORBIDDEN_TARGET: (world.manifest_key, targets[0]),
        RID_OUTSIDE_SOURCE: (outside + world.manifest_key, targets[1]),
    }
    checkpoints = {}
    for rid, (source_key, target) in cases.items():
        checkpoints[rid] = f"backups/restores/{rid}/checkpoint-000000000025-forged.json"
        added.append(checkpoints[rid])
        body = restore_checkpoint(rid, source_key, target, world.bucket)
        world.s3.put_object(Bucket=world.bucket, Key=checkpoints[rid], Body=body)
    scene = Forged(world, targets, checkpoints)
    before = scene.snapshot()
    yield scene
    try:
        assert scene.snapshot() == before, "a refused continuation changed something"
    finally:
        world.s3.delete_objects(Bucket=world.bucket, Delete={"Objects": [{"Key": k} for k in added]})
        for target in targets:
            drop_table(world.dynamodb, target)


FORGED_RESTORES = {
    "forbidden target": (
        RID_FORBIDDEN_TARGET,
        "its checkpoint's target_table 'payments-{pid}' is not allowed",
    ),
    "source outside the prefix": (
        RID_OUTSIDE_SOURCE,
        "its checkpoint's source_key 'private-{pid}/backups/{table}/",
    ),
}


@pytest.mark.parametrize("how", ["resume", "continuation"])
@pytest.mark.parametrize(("restore_id", "match"), FORGED_RESTORES.values(), ids=FORGED_RESTORES.keys())
def test_a_forged_restore_checkpoint_is_refused_before_any_write(
    forged: Forged, how: str, restore_id: str, match: str
) -> None:
    """`{"resume": id}` and `{"continuation": ...}` are held to a new request's rules."""
    if how == "resume":
        payload: dict[str, Any] = {"resume": restore_id}
    else:
        payload = {"continuation": {"checkpoint_key": forged.checkpoints[restore_id]}}
    with pytest.raises(InvalidRequest) as caught:
        restore_handler.handler(payload, FakeLambdaContext())
    message = str(caught.value)
    assert message.startswith(f"restore {restore_id} cannot carry on: ")
    assert match.format(pid=os.getpid(), table=forged.world.table) in message


def backup_checkpoint(table: str, folder: str) -> bytes:
    progress = BackupProgress(
        table_name=table,
        table_arn="",
        schema=key_schema_from_json([{"AttributeName": "book_id", "KeyType": "HASH", "AttributeType": "S"}]),
        folder=folder,
        started_at="2026-11-25T03:00:00+00:00",
        page_size=100,
        invocations=1,
        segments=(SegmentProgress(),),
    )
    return progress.to_json_bytes()


@pytest.fixture
def other_table(world: World) -> Iterator[str]:
    """A table the backup function may not read, holding items a forged checkpoint would scan."""
    name = f"payroll-{os.getpid()}"
    create_table(world.dynamodb, name, hash_key="book_id")
    load_items(world.dynamodb, name, [{"book_id": {"S": "salary"}}])
    yield name
    drop_table(world.dynamodb, name)


@pytest.mark.parametrize(
    ("names_the_other_table", "folder", "error", "match"),
    [
        (True, "backups/{table}/2026-11-25T03-00-00.000Z/", InvalidRequest, "is of a backup of table"),
        (False, "backups/", CorruptBackup, "belongs to another folder than 'backups/'"),
        (False, "private/{table}/2026/", CorruptBackup, "belongs to another folder"),
    ],
    ids=["another table", "a folder above its own", "a folder outside the prefix"],
)
def test_a_forged_backup_checkpoint_is_refused_before_anything_is_scanned(
    world: World,
    other_table: str,
    monkeypatch: pytest.MonkeyPatch,
    names_the_other_table: bool,
    folder: str,
    error: type[Exception],
    match: str,
) -> None:
    monkeypatch.setenv("TABLE_NAME", world.table)
    monkeypatch.setenv("BACKUP_BUCKET", world.bucket)
    monkeypatch.setenv("BACKUP_PREFIX", "backups/")
    key = f"backups/{world.table}/2026-11-25T03-00-00.000Z/progress/checkpoint-0001-forged.json"
    table = other_table if names_the_other_table else world.table
    world.s3.put_object(
        Bucket=world.bucket, Key=key, Body=backup_checkpoint(table, folder.format(table=world.table))
    )
    before = world.snapshot()
    try:
        with pytest.raises(error) as caught:
            backup_handler.handler({"continuation": {"checkpoint_key": key}}, FakeLambdaContext())
        assert match in str(caught.value)
        if names_the_other_table:
            assert str(caught.value) == (
                f"checkpoint s3://{world.bucket}/{key} is of a backup of table {other_table!r}: this "
                f"function backs up only {world.table!r}"
            )
        assert world.snapshot() == before, "the forged checkpoint made the function scan or write"
    finally:
        world.s3.delete_object(Bucket=world.bucket, Key=key)
