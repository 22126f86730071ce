"""Method "import": the wait on DescribeImport across invocations, the count check, and the refusals.

A stand-in DynamoDB answers DescribeImport from a script, so every status ImportTable can report is
tried without a service (moto's import finishes at once; tests/integration/test_import_restore.py runs
the whole path against it).
"""

from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, cast

import pytest

from ledger_backup.errors import ImportFailed, InvalidRequest, TargetNotEmpty
from ledger_backup.restore.claim import TargetClaims
from ledger_backup.restore.import_table import check_importable, wait_for_import
from ledger_backup.restore.journal import (
    IMPORT,
    RestoreInProgress,
    RestoreJournal,
    RestoreProgress,
    RestoreResult,
)
from ledger_backup.restore.run import resume_restore
from ledger_backup.schema import key_schema_from_json
from ledger_backup.sources import Source, SourceKind
from ledger_backup.storage.stores import LocalStore

ARN = "arn:aws:dynamodb:us-east-1:123456789012:table/ledger-i/import/01234567890123-abcdef01"
SCHEMA = key_schema_from_json([{"AttributeName": "book_id", "KeyType": "HASH", "AttributeType": "S"}])


@dataclass
class ScriptedImports:
    """DescribeImport answers, one per call (the last repeats); DescribeTable and TagResource recorded."""

    answers: list[dict[str, Any]]
    tagged: list[str] = field(default_factory=list)
    polls: int = 0

    def describe_import(self, ImportArn: str) -> dict[str, Any]:  # noqa: N803 - boto3's parameter name
        assert ImportArn == ARN
        answer = self.answers[min(self.polls, len(self.answers) - 1)]
        self.polls += 1
        return {"ImportTableDescription": {"ImportArn": ARN, **answer}}

    def describe_table(self, TableName: str) -> dict[str, Any]:  # noqa: N803
        return {"Table": {"TableName": TableName, "TableArn": f"arn:aws:dynamodb:::table/{TableName}"}}

    def tag_resource(self, ResourceArn: str, Tags: list[dict[str, str]]) -> None:  # noqa: N803
        assert Tags == [{"Key": "ledger-backup:created-by", "Value": "restore"}]
        self.tagged.append(ResourceArn)


def running(**counts: int) -> dict[str, Any]:
    return {"ImportStatus": "IN_PROGRESS", **counts}


def completed(items: int, processed: int | None = None, errors: int = 0) -> dict[str, Any]:
    processed = items if processed is None else processed
    return {
        "ImportStatus": "COMPLETED",
        "ImportedItemCount": items,
        "ProcessedItemCount": processed,
        "ErrorCount": errors,
    }


@pytest.fixture
def journal(tmp_path: Path) -> RestoreJournal:
    return RestoreJournal(LocalStore(tmp_path), "backups/")


def importing(journal: RestoreJournal) -> RestoreProgress:
    """A restore whose ImportTable has started, holding its target's claim, as start_import leaves it."""
    progress = RestoreProgress(
        restore_id="20261204T120000Z-0a1b2c3d",
        source_key="backups/exports/AWSDynamoDB/01/manifest-summary.json",
        source_location="s3://b/backups/exports/AWSDynamoDB/01/manifest-summary.json",
        target_table="ledger-i",
        schema=SCHEMA,
        schema_from="request",
        table_created=True,
        expected_items=60,
        started_at="2026-12-04T12:00:00+00:00",
        phase=IMPORT,
        verified_items=60,
        import_arn=ARN,
        import_files=3,
        source_kind="dynamodb-export",
    )
    TargetClaims.beside(journal).claim(progress.target_table, progress.restore_id, progress.source_location)
    return progress


def never_sleep(seconds: float) -> None:
    assert 0 < seconds <= 20


def pauses_after(looks: int) -> Iterator[bool]:
    yield from [False] * looks
    while True:
        yield True


def test_an_import_is_waited_for_across_invocations_then_checked_and_recorded(
    journal: RestoreJournal,
) -> None:
    client = ScriptedImports([running(), running(), completed(60)])  # the resumed wait sleeps never
    looks = pauses_after(1)
    first = wait_for_import(
        cast("Any", client),
        importing(journal),
        journal=journal,
        invocation_id="inv1",
        should_pause=lambda: next(looks),
        sleep=never_sleep,
    )
    assert isinstance(first, RestoreInProgress)
    assert (first.phase, first.to_json()["phase"], first.invocations) == (IMPORT, "importing", 1)
    resumed = resume_restore(cast("Any", client), journal, first.checkpoint_key, should_pause=lambda: False)
    assert isinstance(resumed, RestoreResult)
    assert (resumed.items_restored, resumed.files, resumed.method, resumed.invocations) == (
        60,
        3,
        "import",
        2,
    )
    assert resumed.to_json()["method"] == "import"
    assert client.tagged == ["arn:aws:dynamodb:::table/ledger-i"]
    assert journal.status(resumed.restore_id) == resumed
    assert TargetClaims.beside(journal).holder("ledger-i") is None  # the target is free again


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        (
            completed(59),
            "ImportedItemCount 59, ProcessedItemCount 59, ErrorCount 0, but the verified backup holds 60",
        ),
        (completed(60, errors=1), "ErrorCount 1, but the verified backup holds 60 items"),
        (completed(60, processed=61), "ProcessedItemCount 61"),
        (
            {"ImportStatus": "FAILED", "FailureCode": "ItemValidationError", "FailureMessage": "bad item"},
            "ended FAILED: ItemValidationError bad item; see its CloudWatch log",
        ),
        ({"ImportStatus": "CANCELLED"}, "ended CANCELLED"),
    ],
)
def test_an_import_that_does_not_equal_the_backup_fails_loudly(
    journal: RestoreJournal, answer: dict[str, Any], message: str
) -> None:
    with pytest.raises(ImportFailed, match=message):
        wait_for_import(
            cast("Any", ScriptedImports([answer])),
            importing(journal),
            journal=journal,
            invocation_id="inv1",
            should_pause=lambda: False,
            sleep=never_sleep,
        )
    assert TargetClaims.beside(journal).holder("ledger-i") is None


def source(kind: SourceKind = SourceKind.DYNAMODB_EXPORT, incrementals: tuple[str, ...] = ()) -> Source:
    return Source(kind, "k", "s3://b/k", (), None, 0, "", incrementals=incrementals)


def test_what_importtable_cannot_do_is_refused_before_anything_starts() -> None:
    lsi = {
        "IndexName": "by-rank",
        "KeySchema": [
            {"AttributeName": "book_id", "KeyType": "HASH"},
            {"AttributeName": "rank", "KeyType": "RANGE"},
        ],
        "Projection": {"ProjectionType": "KEYS_ONLY"},
    }
    with_lsi = replace(SCHEMA, local_secondary_indexes=[lsi])
    with pytest.raises(InvalidRequest, match=r"local secondary indexes \(by-rank\), and ImportTable cannot"):
        check_importable(source(), with_lsi, "t", table_exists=False)
    with pytest.raises(TargetNotEmpty, match="ImportTable only creates a new table"):
        check_importable(source(), SCHEMA, "t", table_exists=True)
    with pytest.raises(InvalidRequest, match="not in ImportTable's input format"):
        check_importable(source(SourceKind.SCAN_JSON), SCHEMA, "t", table_exists=False)
    with pytest.raises(InvalidRequest, match="a chain of incrementals cannot be imported"):
        check_importable(source(incrementals=("i",)), SCHEMA, "t", table_exists=False)
    check_importable(source(), SCHEMA, "t", table_exists=False)  # an export into a new table is fine
