"""backup_method export end to end: the handler against moto's DynamoDB, the backup through the restore.

moto's server (the tests' S3 server: one process serves every service, so its exports land in
the tests' bucket) implements ExportTableToPointInTime and DescribeExport, but writes only one data
file, in a folder of its own naming, and no manifests; and ignores INCREMENTAL_EXPORT. So once moto
reports COMPLETED, each test writes what AWS documents an export to hold around moto's file (or, for
an incremental, the change records) with tests/export_layout.py; the rest is the product's code:
start, poll, catalog, then list, verify and restore into DynamoDB Local.
"""

import gzip
import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from botocore.compat import HTTPHeaders

import backup_handler
import restore_handler
from devtools.lambda_context import FakeLambdaContext
from devtools.local_aws import LocalAws
from devtools.tables import create_table, load_items, scan_all
from ledger_backup import layout
from ledger_backup.backup.export import (
    ExportBackupResult,
    ExportJob,
    IncrementalResult,
    catalog_export,
    jobs_folder,
)
from ledger_backup.catalog import list_backups
from ledger_backup.chain import load_chain
from ledger_backup.errors import InvalidRequest
from ledger_backup.schema import TableSchema
from ledger_backup.storage.stores import S3Store
from tests.export_layout import DataFile, change_lines, gz, item_lines, write_export
from tests.integration.iam_calls import default_session

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_s3 import S3Client

pytestmark = pytest.mark.integration

PREFIX = "backups/"


@pytest.fixture
def use_moto_dynamodb(local_services: LocalAws, monkeypatch: pytest.MonkeyPatch) -> Callable[[bool], None]:
    """Point DynamoDB at moto (True) or back at DynamoDB Local (False), through the standard variable."""

    def use(moto: bool) -> None:
        endpoint = local_services.s3_endpoint if moto else local_services.dynamodb_endpoint
        monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", endpoint)

    return use


@pytest.fixture
def export_env(
    monkeypatch: pytest.MonkeyPatch,
    function_env: Callable[[str], None],
    use_moto_dynamodb: Callable[[bool], None],
) -> Callable[[str], None]:
    def configure(table: str) -> None:
        function_env(table)
        monkeypatch.setenv("BACKUP_METHOD", "export")

    use_moto_dynamodb(True)
    return configure


def books(count: int) -> list[dict[str, Any]]:
    return [
        {
            "book_id": {"S": f"book-{n:04d}"},
            "steps": {"L": [{"S": "ingest"}, {"N": str(n)}]},
            "ok": {"BOOL": True},
        }
        for n in range(count)
    ]


def moto_table(name: str, items: list[dict[str, Any]], *, pitr: bool = True) -> None:
    dynamodb: DynamoDBClient = boto3.client("dynamodb")
    create_table(dynamodb, name, hash_key="book_id")
    load_items(dynamodb, name, items)
    if pitr:
        dynamodb.update_continuous_backups(
            TableName=name, PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True}
        )


def the_job(store: S3Store, table: str) -> ExportJob:
    [key] = [k for k in store.list_keys(jobs_folder(PREFIX, table)) if k.endswith("/job.json")]
    return ExportJob.from_json_bytes(store.get(key), key)


def wait_for_moto(job: ExportJob) -> None:
    """moto exports in a thread that takes milliseconds: ask until it says so (no sleeping)."""
    dynamodb: DynamoDBClient = boto3.client("dynamodb")
    for _ in range(10_000):
        status = dynamodb.describe_export(ExportArn=job.export_arn)["ExportDescription"]["ExportStatus"]
        if status != "IN_PROGRESS":
            assert status == "COMPLETED"
            return
    pytest.fail("moto's export did not finish")


def complete_as_aws_would(store: S3Store, job: ExportJob) -> int:
    """The manifests AWS writes, around the one data file moto wrote; returns the items in it."""
    [data_key] = [k for k in store.list_keys(job.folder) if "/data/" in k]
    body = store.get(data_key)
    count = sum(1 for line in gzip.decompress(body).splitlines() if line.strip())
    write_export(
        store,
        job.folder,
        job.export_id,
        job.table_name,
        [DataFile(data_key.rpartition("/")[2], body, count)],
        export_time=job.export_time,
        data_keys=[data_key],
        arn=job.export_arn,
    )
    return count


def test_an_export_backup_continues_until_cataloged_then_restores_like_a_scan_backup(
    s3: "S3Client",
    bucket: str,
    unique_name: str,
    export_env: Callable[[str], None],
    use_moto_dynamodb: Callable[[bool], None],
    context: FakeLambdaContext,
) -> None:
    table = f"ledger-{unique_name}-x"
    items = books(40)
    moto_table(table, items)
    export_env(table)
    store = S3Store(s3, bucket)

    started = backup_handler.handler({}, context)
    assert started["status"] == "continuing"
    assert (started["method"], started["kind"], started["export_status"]) == ("export", "full", "IN_PROGRESS")
    job = the_job(store, table)
    assert started["export_arn"] == job.export_arn
    assert started["location"] == f"s3://{bucket}/{job.folder}"
    wait_for_moto(job)
    assert complete_as_aws_would(store, job) == 40

    polled = backup_handler.handler({"export_poll": True}, context)
    [done] = polled["exports"]
    assert (polled["status"], done["status"], done["kind"]) == ("polled", "complete", "full")
    assert (done["item_count"], done["export_time"]) == (40, job.export_time)
    assert done["s3_key"] == f"{job.folder}manifest.json"
    assert backup_handler.handler({"export_poll": True}, context)["status"] == "idle"

    use_moto_dynamodb(False)  # the restore writes into DynamoDB Local
    verified = restore_handler.handler(
        {"s3_key": "latest", "target_table": f"{table}-restored", "dry_run": True}, context
    )
    assert (verified["status"], verified["item_count"]) == ("verified", 40)
    restored = restore_handler.handler(
        {"s3_key": done["s3_key"], "target_table": f"{table}-restored"}, context
    )
    assert restored["status"] == "complete"
    dynamodb: DynamoDBClient = boto3.client("dynamodb")
    assert scan_all(dynamodb, f"{table}-restored", key="book_id") == {i["book_id"]["S"]: i for i in items}


def test_a_table_without_pitr_is_refused_with_how_to_turn_it_on(
    unique_name: str, export_env: Callable[[str], None], context: FakeLambdaContext
) -> None:
    table = f"ledger-{unique_name}-nopitr"
    moto_table(table, books(1), pitr=False)
    export_env(table)
    with pytest.raises(InvalidRequest, match="point-in-time recovery DISABLED") as refused:
        backup_handler.handler({}, context)
    assert (
        f"aws dynamodb update-continuous-backups --table-name {table} "
        "--point-in-time-recovery-specification PointInTimeRecoveryEnabled=true"
    ) in str(refused.value)


def test_an_incremental_export_extends_the_newest_export_backup_and_restores_with_it(
    s3: "S3Client",
    bucket: str,
    unique_name: str,
    export_env: Callable[[str], None],
    use_moto_dynamodb: Callable[[bool], None],
    context: FakeLambdaContext,
) -> None:
    table = f"ledger-{unique_name}-inc"
    moto_table(table, books(3))
    export_env(table)
    store = S3Store(s3, bucket)
    an_hour_ago = (datetime.now(UTC) - timedelta(hours=1)).replace(microsecond=0)
    base = ExportJob(
        kind="full",
        table_name=table,
        table_arn=f"arn:aws:dynamodb:us-east-1:123456789012:table/{table}",
        schema=the_schema(),
        folder=f"{PREFIX}{table}/2026-12-04T03-00-00.000Z/",
        started_at=an_hour_ago.isoformat(),
        export_arn=f"arn:aws:dynamodb:us-east-1:123456789012:table/{table}/export/0173-base",
        export_time=an_hour_ago.isoformat(),
    )
    write_export(
        store,
        base.folder,
        base.export_id,
        table,
        [DataFile("a.json.gz", gz(item_lines(books(3))), 3)],
        export_time=base.export_time,
    )
    assert isinstance(catalog_export(store, base), ExportBackupResult)

    started = backup_handler.handler({"incremental": True}, context)
    assert (started["status"], started["kind"], started["sequence"]) == ("continuing", "incremental", 1)
    assert (started["base"], started["export_from_time"]) == (base.folder, base.export_time)
    link = the_job(store, table)
    wait_for_moto(link)
    changes = [
        {
            "Metadata": {"WriteTimestampMicros": {"N": "1"}},
            "Keys": {"book_id": {"S": "book-0001"}},
            "OldImage": books(3)[1],
            "NewImage": {"book_id": {"S": "book-0001"}},
        },
    ]
    write_export(
        store,
        link.folder,
        link.export_id,
        table,
        [DataFile("c.json.gz", gz(change_lines(changes)), 1)],
        kind="INCREMENTAL_EXPORT",
        arn=link.export_arn,
        from_time=link.export_from_time,
        to_time=link.export_to_time,
    )
    [done] = backup_handler.handler({"export_poll": True}, context)["exports"]
    assert (done["status"], done["kind"], done["change_records"]) == ("complete", "incremental", 1)
    assert done["s3_key"] == f"{link.folder}incremental.json"
    chain = load_chain(store, base.folder)
    assert chain.problems == []
    assert [folder for folder, _ in chain.links] == [link.folder]

    use_moto_dynamodb(False)  # the chain restored into DynamoDB Local, through the restore's incrementals
    restored = restore_handler.handler(
        {
            "s3_key": f"{base.folder}manifest.json",
            "incrementals": [link.summary_key],
            "target_table": f"{table}-restored",
        },
        context,
    )
    assert restored["status"] == "complete"
    expected = {**{b["book_id"]["S"]: b for b in books(3)}, "book-0001": {"book_id": {"S": "book-0001"}}}
    assert scan_all(boto3.client("dynamodb"), f"{table}-restored", key="book_id") == expected

    use_moto_dynamodb(True)
    again = backup_handler.handler({"incremental": True}, context)
    assert again["status"] == "skipped"
    assert "less than 15 minutes ago" in again["reason"]


def the_schema() -> TableSchema:
    return TableSchema(
        key_schema=[{"AttributeName": "book_id", "KeyType": "HASH"}],
        attribute_definitions=[{"AttributeName": "book_id", "AttributeType": "S"}],
    )


def test_an_incremental_event_to_a_scan_function_is_refused(
    unique_name: str, function_env: Callable[[str], None], context: FakeLambdaContext
) -> None:
    function_env(f"ledger-{unique_name}")  # BACKUP_METHOD unset: scan
    with pytest.raises(InvalidRequest, match=r'\{"incremental": true\} needs backup_method export'):
        backup_handler.handler({"incremental": True}, context)


def cataloged_full(store: S3Store, table: str, moment: datetime, export_id: str) -> ExportJob:
    """A full export backup of `moment` (whole seconds), cataloged then: as an earlier day's poll left it."""
    job = ExportJob(
        kind="full",
        table_name=table,
        table_arn=f"arn:aws:dynamodb:us-east-1:123456789012:table/{table}",
        schema=the_schema(),
        folder=layout.backup_folder(PREFIX, table, moment),
        started_at=moment.isoformat(),
        export_arn=f"arn:aws:dynamodb:us-east-1:123456789012:table/{table}/export/{export_id}",
        export_time=moment.isoformat(),
    )
    files = [DataFile("a.json.gz", gz(item_lines(books(3))), 3)]
    write_export(store, job.folder, job.export_id, table, files, export_time=job.export_time)
    assert isinstance(
        catalog_export(store, job, now=lambda: moment + timedelta(minutes=5)), ExportBackupResult
    )
    return job


def cataloged_link(store: S3Store, base: ExportJob, to_time: datetime) -> ExportJob:
    """The first incremental link of `base`'s chain, cataloged."""
    assert base.export_time is not None
    link = ExportJob(
        kind="incremental",
        table_name=base.table_name,
        table_arn=base.table_arn,
        schema=base.schema,
        folder=f"{base.folder}incrementals/{layout.folder_timestamp(to_time)}/",
        started_at=to_time.isoformat(),
        export_arn=f"{base.export_arn}-link",
        export_from_time=base.export_time,
        export_to_time=to_time.isoformat(),
        base=base.folder,
        previous=base.folder,
        sequence=1,
    )
    changes = [{"Keys": {"book_id": {"S": "book-0000"}}, "OldImage": books(1)[0]}]
    write_export(
        store,
        link.folder,
        link.export_id,
        link.table_name,
        [DataFile("c.json.gz", gz(change_lines(changes)), 1)],
        kind="INCREMENTAL_EXPORT",
        arn=link.export_arn,
        from_time=link.export_from_time,
        to_time=link.export_to_time,
    )
    assert isinstance(
        catalog_export(store, link, now=lambda: to_time + timedelta(minutes=5)), IncrementalResult
    )
    return link


@pytest.fixture
def exports_still_running() -> Iterator[set[str]]:
    """Export ARNs DescribeExport answers IN_PROGRESS for: moto finishes every export in milliseconds.

    Only the answer is DynamoDB's stand-in; the call is made (and checked by the IAM check) as always.
    """
    running: set[str] = set()

    def answer(params: dict[str, Any], **_: Any) -> tuple[AWSResponse, dict[str, Any]] | None:
        arn = json.loads(params["body"])["ExportArn"]
        if arn not in running:
            return None
        description = {"ExportArn": arn, "ExportStatus": "IN_PROGRESS"}
        return AWSResponse(params["url"], 200, HTTPHeaders(), None), {"ExportDescription": description}

    events = default_session().events
    events.register("before-call.dynamodb.DescribeExport", answer, unique_id="tests.exports_still_running")  # type: ignore[arg-type]
    yield running
    events.unregister("before-call.dynamodb.DescribeExport", unique_id="tests.exports_still_running")


def test_a_cataloged_full_export_prunes_by_the_policy_but_never_a_base_an_incremental_is_writing_into(
    s3: "S3Client",
    bucket: str,
    unique_name: str,
    export_env: Callable[[str], None],
    monkeypatch: pytest.MonkeyPatch,
    exports_still_running: set[str],
    context: FakeLambdaContext,
) -> None:
    """keep_last 1: the oldest export backup goes with its chain; a running incremental.s base stays."""
    table = f"ledger-{unique_name}-prune"
    moto_table(table, books(3))
    export_env(table)
    monkeypatch.setenv("KEEP_LAST", "1")
    store = S3Store(s3, bucket)
    today = datetime.now(UTC).replace(microsecond=0)
    oldest = cataloged_full(store, table, today - timedelta(days=3), "0173-oldest")
    cataloged_link(store, oldest, today - timedelta(days=3) + timedelta(hours=1))
    older = cataloged_full(store, table, today - timedelta(days=2), "0173-older")

    started = backup_handler.handler({"incremental": True}, context)  # extends `older`, the newest so far
    assert (started["status"], started["base"]) == ("continuing", older.folder)
    exports_still_running.add(started["export_arn"])
    assert backup_handler.handler({}, context)["status"] == "continuing"
    [full] = [j for j in jobs_of(store, table) if j.kind == "full"]
    wait_for_moto(full)
    complete_as_aws_would(store, full)

    polled = backup_handler.handler({"export_poll": True}, context)
    assert sorted((e["kind"], e["status"]) for e in polled["exports"]) == [
        ("full", "complete"),
        ("incremental", "continuing"),
    ]
    pruned = polled["pruned"]
    assert (pruned["status"], pruned["deleted"]) == ("done", [store.location(oldest.folder)])
    assert list(store.list_keys(oldest.folder)) == []  # its manifest, export and incremental link
    assert store.exists(f"{older.folder}manifest.json")  # outside keep_last 1, but a running export's base
    assert store.exists(f"{full.folder}manifest.json")
    assert [b.folder for b in list_backups(store, PREFIX, table)] == [full.folder, older.folder]


def jobs_of(store: S3Store, table: str) -> list[ExportJob]:
    keys = [k for k in store.list_keys(jobs_folder(PREFIX, table)) if k.endswith("/job.json")]
    return [ExportJob.from_json_bytes(store.get(k), k) for k in keys]
