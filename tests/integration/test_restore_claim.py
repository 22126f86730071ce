"""One restore per target, for real: concurrent restores, a claim left by a died restore, refusals.

Against DynamoDB Local and the S3 server: the claim is S3's conditional PutObject, and the
restores run in threads that start together, each with its own journal object and clients.
"""

import gzip
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

import pytest
from botocore.exceptions import ClientError

import restore_handler
from devtools.lambda_context import FakeLambdaContext
from devtools.ledger_items import ledger_items
from devtools.tables import create_table, load_items, scan_all
from ledger_backup.aws.clients import dynamodb_client, s3_client
from ledger_backup.backup.run import run_backup
from ledger_backup.errors import CorruptBackup, TargetBusy, TargetNotEmpty
from ledger_backup.restore.claim import TargetClaims
from ledger_backup.restore.journal import RestoreInProgress, RestoreJournal, RestoreResult
from ledger_backup.restore.run import RestoreOptions, resume_restore, start_restore
from ledger_backup.restore.target import prepare_target
from ledger_backup.schema import TableSchema
from ledger_backup.sources import open_source
from ledger_backup.storage.stores import S3Store
from tests.conftest import configure_functions

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_s3 import S3Client

pytestmark = pytest.mark.integration

BOOKS = 150
CLAIMS = "backups/restores/claims/"


class Killed(BaseException):
    """The process dying: nothing after it runs (a BaseException passes every `except Exception`)."""


@dataclass(frozen=True)
class Backups:
    """Two ledger tables with different books, each backed up once into the bucket."""

    tables: tuple[str, str]
    keys: tuple[str, str]

    def items(self, dynamodb: "DynamoDBClient", n: int) -> dict[str, dict[str, Any]]:
        return scan_all(dynamodb, self.tables[n], "book_id")


@pytest.fixture
def backups(dynamodb: "DynamoDBClient", s3: "S3Client", bucket: str, unique_name: str) -> Backups:
    tables = (f"ledger-{unique_name}", f"ledger-{unique_name}-b")
    keys = []
    for seed, table in enumerate(tables):
        create_table(dynamodb, table, hash_key="book_id")
        load_items(dynamodb, table, list(ledger_items(BOOKS, seed=seed)))
        keys.append(run_backup(dynamodb, S3Store(s3, bucket), table).manifest_key)
    return Backups(tables, (keys[0], keys[1]))


def journal_of(bucket: str) -> RestoreJournal:
    """A journal object of its own (own S3 client), as each invocation or CLI process has."""
    return RestoreJournal(S3Store(s3_client(), bucket), "backups/")


def claim_keys(s3: "S3Client", bucket: str) -> list[str]:
    return [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix=CLAIMS).get("Contents", [])]


def test_two_concurrent_restores_into_one_missing_target_one_completes_the_other_is_refused(
    dynamodb: "DynamoDBClient", s3: "S3Client", bucket: str, backups: Backups
) -> None:
    target = f"{backups.tables[0]}-raced"
    barrier = threading.Barrier(2)
    outcomes: dict[int, RestoreResult | RestoreInProgress | Exception] = {}
    runs = []
    for n in (0, 1):
        journal = journal_of(bucket)
        runs.append((dynamodb_client(), journal, open_source(journal.store, backups.keys[n])))

    def restore(n: int) -> None:
        client, journal, source = runs[n]
        barrier.wait()
        try:
            outcomes[n] = start_restore(client, source, target, journal=journal)
        except Exception as exc:
            outcomes[n] = exc

    threads = [threading.Thread(target=restore, args=(n,)) for n in (0, 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    completed = [n for n, outcome in outcomes.items() if isinstance(outcome, RestoreResult)]
    assert len(completed) == 1, f"both or neither completed: {outcomes}"
    (winner,) = completed
    result, refusal = outcomes[winner], outcomes[1 - winner]
    assert isinstance(result, RestoreResult)
    assert isinstance(refusal, TargetBusy), f"the other restore was not refused as busy: {refusal!r}"
    assert f"is held by restore {result.restore_id}" in str(refusal)
    assert f"from {result.source}" in str(refusal)
    assert result.items_restored == BOOKS
    assert scan_all(dynamodb, target, "book_id") == backups.items(dynamodb, winner), "the table is a blend"
    assert claim_keys(s3, bucket) == [], "the finished restore kept its claim"


def start_and_die(
    dynamodb: "DynamoDBClient", journal: RestoreJournal, key: str, target: str, looks: int
) -> str:
    """A journaled restore whose process dies after `looks` batches; returns its restore id."""
    seen = 0

    def dies_after_a_while() -> bool:
        nonlocal seen
        seen += 1
        if seen > looks:
            raise Killed
        return False

    with pytest.raises(Killed):
        start_restore(
            dynamodb,
            open_source(journal.store, key),
            target,
            options=RestoreOptions(checkpoint_seconds=0),
            journal=journal,
            should_pause=dies_after_a_while,
        )
    holder = TargetClaims.beside(journal).holder(target)
    assert holder is not None, "the died restore left no claim"
    return holder.restore_id


def test_a_claim_left_by_a_died_restore_refuses_a_new_one_and_resume_finishes_it(
    dynamodb: "DynamoDBClient", s3: "S3Client", bucket: str, backups: Backups
) -> None:
    target = f"{backups.tables[0]}-died"
    died = start_and_die(dynamodb, journal_of(bucket), backups.keys[0], target, looks=3)
    written = dynamodb.scan(TableName=target, Select="COUNT", ConsistentRead=True)["Count"]
    assert 0 < written < BOOKS

    journal = journal_of(bucket)
    with pytest.raises(TargetBusy) as caught:
        start_restore(
            dynamodb,
            open_source(journal.store, backups.keys[1]),
            target,
            options=RestoreOptions(overwrite=True),
            journal=journal,
        )
    message = str(caught.value)
    assert f"target table {target!r} is held by restore {died} (started " in message
    assert f'read {{"restore_status": "{died}"}}' in message
    assert f'finish it with {{"resume": "{died}"}}' in message
    assert f"give it up by deleting s3://{bucket}/{CLAIMS}{target}.json" in message
    assert dynamodb.scan(TableName=target, Select="COUNT", ConsistentRead=True)["Count"] == written

    resumed = resume_restore(dynamodb, journal, journal.latest_checkpoint(died))
    assert isinstance(resumed, RestoreResult)
    assert (resumed.restore_id, resumed.items_restored) == (died, BOOKS)
    assert scan_all(dynamodb, target, "book_id") == backups.items(dynamodb, 0)
    assert claim_keys(s3, bucket) == []


def test_resume_through_the_function_takes_the_claim_over(
    dynamodb: "DynamoDBClient",
    s3: "S3Client",
    bucket: str,
    backups: Backups,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    configure_functions(monkeypatch, backups.tables[0], bucket)
    target = f"{backups.tables[0]}-resumed"
    died = start_and_die(dynamodb, journal_of(bucket), backups.keys[0], target, looks=2)
    with pytest.raises(TargetBusy, match=f"is held by restore {died}"):
        restore_handler.handler({"s3_key": backups.keys[1], "target_table": target}, FakeLambdaContext())

    answer = restore_handler.handler({"resume": died}, FakeLambdaContext())
    assert (answer["status"], answer["restore_id"], answer["items_restored"]) == ("complete", died, BOOKS)
    assert scan_all(dynamodb, target, "book_id") == backups.items(dynamodb, 0)
    assert claim_keys(s3, bucket) == []
    again = restore_handler.handler({"restore_status": died}, FakeLambdaContext())
    assert again == answer, "the recorded result reads back once the claim is gone"


def test_a_resume_is_refused_while_another_restore_holds_the_target(
    dynamodb: "DynamoDBClient", s3: "S3Client", bucket: str, backups: Backups
) -> None:
    """A died restore given up (claim deleted by hand), then another started: the old one may not write."""
    target = f"{backups.tables[0]}-givenup"
    journal = journal_of(bucket)
    died = start_and_die(dynamodb, journal, backups.keys[0], target, looks=2)
    s3.delete_object(Bucket=bucket, Key=f"{CLAIMS}{target}.json")  # what the refusal says to do
    later = TargetClaims.beside(journal)
    later.claim(target, "20991231T235959Z-00000000", "s3://elsewhere/backup")  # a later restore, running
    written = dynamodb.scan(TableName=target, Select="COUNT", ConsistentRead=True)["Count"]

    with pytest.raises(TargetBusy, match=f"restore {died} cannot carry on: .* held by restore 20991231"):
        resume_restore(dynamodb, journal, journal.latest_checkpoint(died))
    assert dynamodb.scan(TableName=target, Select="COUNT", ConsistentRead=True)["Count"] == written


def test_a_given_up_restore_frees_the_target_for_a_new_one(
    dynamodb: "DynamoDBClient", s3: "S3Client", bucket: str, backups: Backups
) -> None:
    target = f"{backups.tables[0]}-freed"
    journal = journal_of(bucket)
    start_and_die(dynamodb, journal, backups.keys[0], target, looks=2)
    s3.delete_object(Bucket=bucket, Key=f"{CLAIMS}{target}.json")
    result = start_restore(
        dynamodb,
        open_source(journal.store, backups.keys[0]),
        target,
        options=RestoreOptions(overwrite=True),
        journal=journal,
    )
    assert isinstance(result, RestoreResult)
    assert scan_all(dynamodb, target, "book_id") == backups.items(dynamodb, 0)
    assert claim_keys(s3, bucket) == []


def corrupt_last_data_file(s3: "S3Client", bucket: str, manifest_key: str) -> None:
    folder = manifest_key.removesuffix("manifest.json")
    last = sorted(o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix=f"{folder}data/")["Contents"])[
        -1
    ]
    lines = gzip.decompress(s3.get_object(Bucket=bucket, Key=last)["Body"].read())
    tampered = lines.replace(b'"S":"v3"', b'"S":"v4"', 1)
    assert tampered != lines
    s3.put_object(Bucket=bucket, Key=last, Body=gzip.compress(tampered))


def test_a_restore_refused_for_its_input_leaves_no_claim_behind(
    dynamodb: "DynamoDBClient", s3: "S3Client", bucket: str, backups: Backups
) -> None:
    target = f"{backups.tables[0]}-refused"
    corrupt_last_data_file(s3, bucket, backups.keys[1])
    journal = journal_of(bucket)
    with pytest.raises(CorruptBackup, match="checksum mismatch"):
        start_restore(dynamodb, open_source(journal.store, backups.keys[1]), target, journal=journal)
    assert claim_keys(s3, bucket) == []
    assert target not in dynamodb.list_tables()["TableNames"]

    create_table(dynamodb, target, hash_key="book_id")
    load_items(dynamodb, target, [{"book_id": {"S": "someone-elses"}}])
    with pytest.raises(TargetNotEmpty):
        start_restore(dynamodb, open_source(journal.store, backups.keys[0]), target, journal=journal)
    assert claim_keys(s3, bucket) == []

    result = start_restore(
        dynamodb,
        open_source(journal.store, backups.keys[0]),
        target,
        options=RestoreOptions(overwrite=True),
        journal=journal,
    )
    assert isinstance(result, RestoreResult)
    assert result.items_restored == BOOKS


SCHEMA = TableSchema(
    key_schema=[{"AttributeName": "book_id", "KeyType": "HASH"}],
    attribute_definitions=[{"AttributeName": "book_id", "AttributeType": "S"}],
)


class CreatedMeanwhile:
    """The real client, but someone else creates the target right after our DescribeTable found it missing."""

    def __init__(self, client: "DynamoDBClient", target: str) -> None:
        self._client, self._target = client, target

    def describe_table(self, **request: Any) -> Any:
        try:
            return self._client.describe_table(**request)
        except ClientError:
            create_table(self._client, self._target, hash_key="book_id")  # the other restore's CreateTable
            load_items(self._client, self._target, [{"book_id": {"S": "theirs"}}])
            raise

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


def test_a_table_created_by_someone_else_between_look_and_create_is_refused(
    dynamodb: "DynamoDBClient", unique_name: str
) -> None:
    """DynamoDB Local answers CreateTable of an existing table with ResourceInUseException, not retried."""
    target = f"ledger-{unique_name}-meanwhile"
    client = cast("DynamoDBClient", CreatedMeanwhile(dynamodb, target))
    with pytest.raises(TargetBusy, match=f"target table {target!r} was created by someone else"):
        prepare_target(client, target, SCHEMA, create_table=True, overwrite=True)
    assert dynamodb.scan(TableName=target, ConsistentRead=True)["Items"] == [{"book_id": {"S": "theirs"}}]
