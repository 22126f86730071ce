"""Export backups cataloged from exports in AWS's documented layout (tests/export_layout.py).

The data path: manifests and their .md5 files, every data file's MD5 and count, empty files, an
export copied to another prefix, the chain of incremental exports; and the poll's bookkeeping
(waiting, failures, claims, a catalog paused between files) with DescribeExport answered here.
"""

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import pytest

from ledger_backup import layout
from ledger_backup.backup.export import (
    ExportBackupResult,
    ExportJob,
    ExportPending,
    ExportRefused,
    IncrementalResult,
    IncrementalSkipped,
    catalog_export,
    job_folder,
    poll_exports,
    start_export_backup,
    start_incremental_export,
)
from ledger_backup.catalog import latest_backup, list_backups
from ledger_backup.chain import load_chain
from ledger_backup.errors import CorruptBackup, IncompleteBackup
from ledger_backup.manifest import IncrementalManifest, Manifest
from ledger_backup.schema import TableSchema
from ledger_backup.sources.detect import open_source
from ledger_backup.storage.stores import LocalStore
from tests.export_layout import DataFile, change_lines, export_arn, gz, item_lines, write_export

SCHEMA = TableSchema(
    key_schema=[{"AttributeName": "book_id", "KeyType": "HASH"}],
    attribute_definitions=[{"AttributeName": "book_id", "AttributeType": "S"}],
)
TABLE = "ledger"
BASE = "backups/ledger/2026-12-04T03-00-00.000Z/"
EXPORT_TIME = "2026-12-04T03:00:00+00:00"
T1 = "2026-12-04T04:00:00+00:00"
T2 = "2026-12-04T05:00:00+00:00"


def books(first: int, count: int) -> list[dict[str, Any]]:
    return [{"book_id": {"S": f"book-{n:04d}"}, "steps": {"N": str(n)}} for n in range(first, first + count)]


def full_job(folder: str = BASE, export_id: str = "01733281200000-a1b2c3d4") -> ExportJob:
    return ExportJob(
        kind="full",
        table_name=TABLE,
        table_arn=f"arn:aws:dynamodb:us-east-1:123456789012:table/{TABLE}",
        schema=SCHEMA,
        folder=folder,
        started_at="2026-12-04T03:00:00.123000+00:00",
        export_arn=export_arn(TABLE, export_id),
        export_time=EXPORT_TIME,
    )


def link_job(sequence: int, from_time: str, to_time: str, previous: str, export_id: str) -> ExportJob:
    folder = f"{BASE}incrementals/{to_time[:19].replace(':', '-')}.000Z/"
    return ExportJob(
        kind="incremental",
        table_name=TABLE,
        table_arn=f"arn:aws:dynamodb:us-east-1:123456789012:table/{TABLE}",
        schema=SCHEMA,
        folder=folder,
        started_at=to_time,
        export_arn=export_arn(TABLE, export_id),
        export_from_time=from_time,
        export_to_time=to_time,
        base=BASE,
        previous=previous,
        sequence=sequence,
    )


def write_full(store: LocalStore, job: ExportJob, **options: Any) -> list[DataFile]:
    """Three partitions' files: 5 books (one blank line among them), an empty object, an empty gzip."""
    files = [
        DataFile("aaaa.json.gz", gz(item_lines(books(0, 3)) + b"\n" + item_lines(books(3, 2))), 5),
        DataFile("bbbb.json.gz", b"", 0),
        DataFile("cccc.json.gz", gz(b""), 0),
        DataFile("dddd.json.gz", gz(item_lines(books(5, 4)).rstrip(b"\n")), 4),  # no last newline
    ]
    write_export(store, job.folder, job.export_id, TABLE, files, export_time=EXPORT_TIME, **options)
    return files


def write_link(store: LocalStore, job: ExportJob, changes: list[dict[str, Any]]) -> None:
    data = DataFile(f"{job.export_id}.json.gz", gz(change_lines(changes)), len(changes))
    write_export(
        store,
        job.folder,
        job.export_id,
        TABLE,
        [data, DataFile(f"{job.export_id}-empty.json.gz", b"", 0)],
        kind="INCREMENTAL_EXPORT",
        from_time=job.export_from_time,
        to_time=job.export_to_time,
    )


@pytest.fixture
def store(tmp_path: Path) -> LocalStore:
    return LocalStore(tmp_path)


def test_a_cataloged_full_export_is_a_backup_that_lists_and_reads(store: LocalStore) -> None:
    job = full_job()
    write_full(store, job, recorded_root="exports/2026-Dec/")  # copied here from another prefix
    result = catalog_export(store, job, now=lambda: datetime(2026, 12, 4, 3, 9, tzinfo=UTC))
    assert isinstance(result, ExportBackupResult)
    answer = result.to_json()
    assert answer["status"] == "complete"
    assert answer["method"] == "export"
    assert (answer["item_count"], answer["files"], answer["export_time"]) == (9, 4, EXPORT_TIME)
    assert answer["s3_key"] == layout.manifest_key(BASE)

    manifest = Manifest.from_json_bytes(store.get(layout.manifest_key(BASE)), "manifest")
    assert manifest.source is not None
    assert manifest.source.export_arn == job.export_arn
    assert manifest.consistent_at == datetime.fromisoformat(EXPORT_TIME)
    assert [f.key for f in manifest.files][1] == f"AWSDynamoDB/{job.export_id}/data/bbbb.json.gz"
    assert [(f.item_count, f.compressed_bytes) for f in manifest.files][1:3] == [(0, 0), (0, 20)]
    assert latest_backup(store, "backups/", TABLE).folder == BASE

    source = open_source(store, BASE)
    items = [item for part in source.parts for item in part.items()]
    assert [item["book_id"]["S"] for item in items] == [f"book-{n:04d}" for n in range(9)]


def test_a_data_file_whose_md5_differs_is_refused_and_no_manifest_is_written(store: LocalStore) -> None:
    job = full_job()
    write_full(store, job)
    damaged = f"{BASE}AWSDynamoDB/{job.export_id}/data/dddd.json.gz"
    store.put(damaged, gz(item_lines(books(5, 3)) + item_lines(books(99, 1))))  # same count, other bytes
    with pytest.raises(CorruptBackup, match=r"dddd\.json\.gz: checksum mismatch: manifest-files\.json says"):
        catalog_export(store, job)
    assert not store.exists(layout.manifest_key(BASE))
    assert list_backups(store, "backups/", TABLE) == []


def test_a_manifest_that_its_md5_file_contradicts_is_refused(store: LocalStore) -> None:
    job = full_job()
    write_full(store, job)
    files_key = f"{BASE}AWSDynamoDB/{job.export_id}/manifest-files.json"
    store.put(files_key, store.get(files_key).replace(b'"itemCount": 5', b'"itemCount": 6'))
    with pytest.raises(
        CorruptBackup, match=r"manifest-files\.json: checksum mismatch: .*manifest-files\.md5"
    ):
        catalog_export(store, job)


def test_a_summary_without_its_checksum_file_is_refused(store: LocalStore) -> None:
    job = full_job()
    write_full(store, job)
    store.delete([f"{BASE}AWSDynamoDB/{job.export_id}/manifest-summary.md5"])
    with pytest.raises(CorruptBackup, match=r"has no checksum file \(manifest-summary\.md5 or \.checksum\)"):
        catalog_export(store, job)


def test_a_line_count_the_files_manifest_contradicts_is_refused(store: LocalStore) -> None:
    job = full_job()
    files = [DataFile("aaaa.json.gz", gz(item_lines(books(0, 3))), 4)]
    write_export(store, BASE, job.export_id, TABLE, files, export_time=EXPORT_TIME)
    with pytest.raises(CorruptBackup, match=r"holds 3 items but manifest-files\.json lists 4"):
        catalog_export(store, job)


def test_an_export_of_another_moment_than_asked_is_refused(store: LocalStore) -> None:
    job = full_job()
    write_export(store, BASE, job.export_id, TABLE, [], export_time="2026-12-04T02:00:00Z")
    with pytest.raises(CorruptBackup, match=r"of the table at 2026-12-04T02:00:00\+00:00, not 2026-12-04T03"):
        catalog_export(store, job)


def test_a_completed_export_without_its_summary_is_incomplete(store: LocalStore) -> None:
    with pytest.raises(IncompleteBackup, match=r"COMPLETED, but .*manifest-summary\.json does not exist"):
        catalog_export(store, full_job())


def chain_of_one(store: LocalStore) -> ExportJob:
    job = full_job()
    write_full(store, job)
    assert isinstance(catalog_export(store, job), ExportBackupResult)
    first = link_job(1, EXPORT_TIME, T1, BASE, "01733284800000-11111111")
    write_link(
        store,
        first,
        [
            {
                "Metadata": {"WriteTimestampMicros": {"N": "1733285000000000"}},
                "Keys": {"book_id": {"S": "b-1"}},
                "NewImage": {"book_id": {"S": "b-1"}, "steps": {"N": "1"}},
            },
            {
                "Metadata": {"WriteTimestampMicros": {"N": "1733285000000001"}},
                "Keys": {"book_id": {"S": "book-0001"}},
                "OldImage": {"book_id": {"S": "book-0001"}, "steps": {"N": "1"}, "note": {"S": "x"}},
                "NewImage": {"book_id": {"S": "book-0001"}, "steps": {"N": "2"}},
            },
            {
                "Metadata": {"WriteTimestampMicros": {"N": "1733285000000002"}},
                "Keys": {"book_id": {"S": "book-0002"}},
                "OldImage": {"book_id": {"S": "book-0002"}, "steps": {"N": "2"}},
            },
        ],
    )
    return first


def test_incremental_exports_are_cataloged_as_a_chain_that_names_its_base(store: LocalStore) -> None:
    first = chain_of_one(store)
    result = catalog_export(store, first)
    assert isinstance(result, IncrementalResult)
    answer = result.to_json()
    assert (answer["kind"], answer["sequence"], answer["change_records"], answer["base"]) == (
        "incremental",
        1,
        3,
        BASE,
    )
    link = IncrementalManifest.from_json_bytes(store.get(answer["s3_key"]), "link")
    assert link.files[0].key == "AWSDynamoDB/data/01733284800000-11111111.json.gz"
    assert (link.source.export_from_time, link.source.export_to_time) == (EXPORT_TIME, T1)
    chain = load_chain(store, BASE)
    assert chain.problems == []
    assert [f for f, _ in chain.links] == [first.folder]
    assert chain.end == datetime.fromisoformat(T1)
    assert [b.folder for b in list_backups(store, "backups/", TABLE)] == [BASE]  # a link is no backup


def test_a_link_that_leaves_a_gap_after_the_chain_is_refused(store: LocalStore) -> None:
    first = chain_of_one(store)
    catalog_export(store, first)
    late = (datetime.fromisoformat(T1) + timedelta(minutes=1)).isoformat()
    second = link_job(2, late, T2, first.folder, "01733288400000-22222222")
    write_link(store, second, [])
    with pytest.raises(
        CorruptBackup, match=r"covers changes from 2026-12-04T04:01:00.* ends at 2026-12-04T04:00:00"
    ):
        catalog_export(store, second)
    assert not store.exists(second.folder + "incremental.json")


def test_a_line_that_is_no_change_record_is_refused(store: LocalStore) -> None:
    job = full_job()
    write_full(store, job)
    catalog_export(store, job)
    first = link_job(1, EXPORT_TIME, T1, BASE, "01733284800000-11111111")
    write_link(store, first, [{"Item": {"book_id": {"S": "b-1"}}}])
    with pytest.raises(CorruptBackup, match=r"line 1: line is not a change record"):
        catalog_export(store, first)


class Exports:
    """DescribeExport as DynamoDB answers it, with the statuses the test sets."""

    def __init__(self) -> None:
        self.status: dict[str, dict[str, Any]] = {}

    def describe_export(self, ExportArn: str) -> dict[str, Any]:  # noqa: N803 - boto3's parameter name
        return {"ExportDescription": {"ExportArn": ExportArn, **self.status[ExportArn]}}


def pending(store: LocalStore, job: ExportJob) -> None:
    store.put_new(job_folder("backups/", TABLE, job.export_id) + "job.json", job.to_json_bytes())


def test_the_poll_waits_catalogs_and_removes_the_job(store: LocalStore) -> None:
    job, exports = full_job(), Exports()
    pending(store, job)
    exports.status[job.export_arn] = {"ExportStatus": "IN_PROGRESS"}
    [waiting] = poll_exports(cast(Any, exports), store, TABLE)
    assert isinstance(waiting, ExportPending)
    assert waiting.to_json()["status"] == "continuing"
    write_full(store, job)
    exports.status[job.export_arn] = {"ExportStatus": "COMPLETED"}
    [done] = poll_exports(cast(Any, exports), store, TABLE)
    assert isinstance(done, ExportBackupResult)
    assert done.backup.item_count == 9
    assert list(store.list_keys("backups/export-jobs/")) == []
    assert poll_exports(cast(Any, exports), store, TABLE) == []


def test_a_failed_export_is_reported_once(store: LocalStore) -> None:
    job, exports = full_job(), Exports()
    pending(store, job)
    exports.status[job.export_arn] = {
        "ExportStatus": "FAILED",
        "FailureCode": "S3AccessDenied",
        "FailureMessage": "Access Denied",
    }
    [refused] = poll_exports(cast(Any, exports), store, TABLE)
    assert isinstance(refused, ExportRefused)
    assert "ended FAILED: S3AccessDenied: Access Denied" in refused.problem
    assert poll_exports(cast(Any, exports), store, TABLE) == []


def test_a_catalog_pauses_between_files_and_a_claim_keeps_other_polls_away(store: LocalStore) -> None:
    job, exports = full_job(), Exports()
    pending(store, job)
    write_full(store, job)
    exports.status[job.export_arn] = {"ExportStatus": "COMPLETED"}
    clock = [datetime(2026, 12, 4, 3, 10, tzinfo=UTC)]
    # The clock is looked at after each file (not before the first): time is up after one.
    [paused] = poll_exports(cast(Any, exports), store, TABLE, now=lambda: clock[0], should_pause=lambda: True)
    assert isinstance(paused, ExportPending)
    assert paused.files_checked == 1

    folder = job_folder("backups/", TABLE, job.export_id)
    store.put_new(
        folder + "claim-0002.json", b'{"invocation": "other", "until": "2026-12-04T03:25:00+00:00"}'
    )
    [busy] = poll_exports(cast(Any, exports), store, TABLE, now=lambda: clock[0])
    assert isinstance(busy, ExportPending)
    assert busy.detail == "another invocation is cataloging this export"

    clock[0] += timedelta(minutes=30)  # the other invocation's claim ran out: it died
    store.put_new(folder + "claim-0003.json", b'{"invocation": "cut short"')  # and one that is unreadable
    [done] = poll_exports(cast(Any, exports), store, TABLE, now=lambda: clock[0])
    assert isinstance(done, ExportBackupResult)
    assert done.backup.item_count == 9


def test_an_incremental_waits_for_a_full_export_backup_and_for_15_minutes(store: LocalStore) -> None:
    dynamodb = TableOnly()
    now = datetime(2026, 12, 4, 3, 10, tzinfo=UTC)
    first = start_incremental_export(cast(Any, dynamodb), store, "bucket", TABLE, now=lambda: now)
    assert isinstance(first, IncrementalSkipped)
    assert "no full export backup" in first.reason
    job = full_job()
    write_full(store, job)
    catalog_export(store, job)
    second = start_incremental_export(cast(Any, dynamodb), store, "bucket", TABLE, now=lambda: now)
    assert isinstance(second, IncrementalSkipped)
    assert "less than 15 minutes ago" in second.reason
    assert dynamodb.exports == []

    later = datetime(2026, 12, 6, 3, 0, tzinfo=UTC)  # two days behind: caught up 24 hours at a time
    started = start_incremental_export(cast(Any, dynamodb), store, "bucket", TABLE, now=lambda: later)
    assert isinstance(started, ExportPending)
    [request] = dynamodb.exports
    window = request["IncrementalExportSpecification"]
    assert (window["ExportFromTime"], window["ExportToTime"]) == (
        datetime.fromisoformat(EXPORT_TIME),
        datetime.fromisoformat("2026-12-05T03:00:00+00:00"),
    )
    assert request["S3Prefix"] == f"{BASE}incrementals/2026-12-05T03-00-00.000Z"
    assert started.job.previous == BASE
    assert started.job.sequence == 1


class TableOnly:
    """DescribeTable, DescribeTimeToLive and DescribeContinuousBackups of a PITR table; exports recorded."""

    def __init__(self, latest: datetime | None = None) -> None:
        self.exports: list[dict[str, Any]] = []
        self.latest = latest  # LatestRestorableDateTime, when DynamoDB tells it

    def describe_table(self, TableName: str) -> dict[str, Any]:  # noqa: N803
        return {
            "Table": {
                "TableName": TableName,
                "TableArn": f"arn:aws:dynamodb:us-east-1:1:table/{TableName}",
                "KeySchema": SCHEMA.key_schema,
                "AttributeDefinitions": SCHEMA.attribute_definitions,
            }
        }

    def describe_time_to_live(self, TableName: str) -> dict[str, Any]:  # noqa: N803
        return {"TimeToLiveDescription": {"TimeToLiveStatus": "DISABLED"}}

    def describe_continuous_backups(self, TableName: str) -> dict[str, Any]:  # noqa: N803
        recovery: dict[str, Any] = {"PointInTimeRecoveryStatus": "ENABLED"}
        if self.latest is not None:
            recovery["LatestRestorableDateTime"] = self.latest
        return {"ContinuousBackupsDescription": {"PointInTimeRecoveryDescription": recovery}}

    def export_table_to_point_in_time(self, **request: Any) -> dict[str, Any]:
        self.exports.append(request)
        return {"ExportDescription": {"ExportArn": export_arn(TABLE, f"0173-{len(self.exports):08d}")}}


def test_a_full_export_asks_for_no_later_moment_than_the_recovery_log_reaches(store: LocalStore) -> None:
    now = datetime(2026, 12, 4, 3, 0, 7, 250_000, tzinfo=UTC)
    latest = datetime(2026, 12, 4, 2, 55, 3, 999_000, tzinfo=UTC)
    for reaches, asked in ((latest, "2026-12-04T02:55:03+00:00"), (None, "2026-12-04T03:00:07+00:00")):
        dynamodb = TableOnly(reaches)
        started = start_export_backup(cast(Any, dynamodb), store, "bucket", TABLE, now=lambda: now)
        [request] = dynamodb.exports
        assert request["ExportTime"] == datetime.fromisoformat(asked)
        assert started.job.export_time == asked
        assert request["S3Prefix"] == "backups/ledger/2026-12-04T03-00-07.250Z"
        assert (request["ExportType"], request["ExportFormat"]) == ("FULL_EXPORT", "DYNAMODB_JSON")
        store.delete(list(store.list_keys("backups/export-jobs/")))


KEY_ARN = "arn:aws:kms:us-east-1:123456789012:key/0a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d"


@pytest.mark.parametrize("kms_key_arn", [KEY_ARN, None])
def test_every_export_request_names_the_buckets_kms_key_when_there_is_one(
    store: LocalStore, kms_key_arn: str | None
) -> None:
    """AWS does not document that an export takes the bucket's default SSE-KMS key: the request names it."""
    dynamodb = TableOnly()
    now = datetime(2026, 12, 4, 3, 0, tzinfo=UTC)
    full = start_export_backup(
        cast(Any, dynamodb), store, "bucket", TABLE, kms_key_arn=kms_key_arn, now=lambda: now
    )
    store.delete(list(store.list_keys("backups/export-jobs/")))
    write_full(store, full.job)
    catalog_export(store, full.job)
    later = now + timedelta(hours=1)
    link = start_incremental_export(
        cast(Any, dynamodb), store, "bucket", TABLE, kms_key_arn=kms_key_arn, now=lambda: later
    )
    assert isinstance(link, ExportPending)
    requests = dynamodb.exports
    assert [r["ExportType"] for r in requests] == ["FULL_EXPORT", "INCREMENTAL_EXPORT"]
    for request in requests:
        encryption = {name: request[name] for name in ("S3SseAlgorithm", "S3SseKmsKeyId") if name in request}
        assert encryption == ({"S3SseAlgorithm": "KMS", "S3SseKmsKeyId": kms_key_arn} if kms_key_arn else {})
