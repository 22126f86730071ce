"""The restore function's access policy and the options a request turns into: every allow and refuse."""

from typing import Any

import pytest

from ledger_backup.errors import InvalidRequest
from ledger_backup.restore.journal import RestoreProgress
from ledger_backup.restore.run import RestoreOptions
from ledger_backup.schema import key_schema_from_json
from runtime.events import ContinuationEvent, RestoreRequest, ResumeRestoreEvent, parse_event
from runtime.policy import check_allowed, check_backup_checkpoint, check_resumed, restore_options
from runtime.settings import Settings

SETTINGS = Settings.from_environ(
    {
        "TABLE_NAME": "ledger",
        "BACKUP_BUCKET": "ledger-backups",
        "BACKUP_PREFIX": "backups/",
        "RESTORE_WRITERS": "3",
        "MAX_ITEMS_PER_SECOND": "500",
    }
)
UNLIMITED = Settings.from_environ({"TABLE_NAME": "ledger", "BACKUP_BUCKET": "ledger-backups"})
KEY = "backups/ledger/2026-11-25T03-00-00.123Z/manifest.json"
HASH = {"AttributeName": "book_id", "KeyType": "HASH", "AttributeType": "S"}


def request(**fields: Any) -> RestoreRequest:
    return parse_event({"s3_key": KEY, "target_table": "ledger-restored", **fields}, RestoreRequest)


@pytest.mark.parametrize(
    "fields",
    [
        {},
        {"target_table": "ledger"},  # the ledger itself (a non-empty one still needs overwrite)
        {"target_table": "ledger2"},
        {"bucket": "ledger-backups"},
        {"s3_key": "latest"},
        {"s3_key": "backups/ledger/2026-11-25T03-00-00.123Z/"},
        {"s3_key": "backups/legacy/dynamodb_backup_2026-02-14.json"},
        {"s3_key": "backups/exports/AWSDynamoDB/01/manifest-summary.json"},
        {"s3_key": "backups/a..b/manifest.json"},  # dots inside a name are not a traversal
    ],
)
def test_allowed_requests(fields: dict[str, Any]) -> None:
    check_allowed(request(**fields), SETTINGS)


@pytest.mark.parametrize("target", ["payments", "ledge", "restored-ledger", "LEDGER-restored", "xledger"])
def test_targets_not_named_after_the_ledger_are_refused(target: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        check_allowed(request(target_table=target), SETTINGS)
    assert str(caught.value) == (
        f"target_table {target!r} is not allowed: this function restores only into 'ledger' or tables "
        "whose names start with it (e.g. ledger-restored)"
    )


def test_another_bucket_is_refused() -> None:
    with pytest.raises(InvalidRequest) as caught:
        check_allowed(request(bucket="someone-elses"), SETTINGS)
    assert str(caught.value) == (
        "bucket 'someone-elses' is not allowed: this function restores only from its backup bucket "
        "'ledger-backups'"
    )


def test_the_target_is_checked_before_the_bucket() -> None:
    with pytest.raises(InvalidRequest, match="target_table 'payments' is not allowed"):
        check_allowed(request(target_table="payments", bucket="someone-elses"), SETTINGS)


@pytest.mark.parametrize(
    "key",
    [
        "secrets/manifest.json",
        "/backups/t/manifest.json",
        "backups/../secrets/manifest.json",
        "backups/ledger/../../secrets/manifest.json",
        "backups/ledger/..",
        "Backups/ledger/manifest.json",
        "backups",
        "backups-private/ledger/manifest.json",
        "LATEST",
    ],
)
def test_keys_outside_the_prefix_are_refused(key: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        check_allowed(request(s3_key=key), SETTINGS)
    assert str(caught.value) == f"s3_key {key!r} is outside the backup prefix 'backups/'"


def test_a_backup_continuation_must_be_one_of_the_tables_own() -> None:
    check_backup_checkpoint("backups/ledger/2026/progress/checkpoint-0001-x.json", SETTINGS)
    for key in (
        "backups/payments/2026/progress/c.json",
        "backups/ledger-other/2026/progress/c.json",
        "backups/ledger/../payments/progress/c.json",
        "ledger/2026/progress/c.json",
    ):
        with pytest.raises(InvalidRequest) as caught:
            check_backup_checkpoint(key, SETTINGS)
        assert str(caught.value) == f"checkpoint {key!r} is not one of this table's backups"


RID = "20261125T030000Z-0123abcd"


def progress(target_table: str = "ledger-restored", source_key: str = KEY) -> RestoreProgress:
    """What a restore checkpoint holds (only the target and the source matter to the policy)."""
    return RestoreProgress(
        restore_id=RID,
        source_key=source_key,
        source_location=f"s3://ledger-backups/{source_key}",
        target_table=target_table,
        schema=key_schema_from_json([HASH]),
        schema_from="backup",
        table_created=True,
        expected_items=None,
        started_at="2026-11-25T03:00:00+00:00",
    )


@pytest.mark.parametrize(
    "checkpoint",
    [
        progress(),
        progress(target_table="ledger"),
        progress(source_key="backups/legacy/dynamodb_backup_2026-02-14.json"),
        progress(source_key="backups/exports/AWSDynamoDB/01/manifest-summary.json"),
    ],
)
def test_a_resumed_restore_within_the_rules_carries_on(checkpoint: RestoreProgress) -> None:
    check_resumed(checkpoint, SETTINGS)


@pytest.mark.parametrize("target", ["ledger/../payments", "ledger-\u2010x", "ledger" + "x" * 250, ""])
def test_a_resumed_restore_into_what_is_not_a_table_name_is_refused(target: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        check_resumed(progress(target_table=target), SETTINGS)
    assert str(caught.value) == (
        f"restore {RID} cannot carry on: its checkpoint's target_table {target!r} is not a table name"
    )


@pytest.mark.parametrize("target", ["payments", "ledge", "restored-ledger", "LEDGER-restored"])
def test_a_resumed_restore_into_a_forbidden_target_is_refused(target: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        check_resumed(progress(target_table=target), SETTINGS)
    assert str(caught.value) == (
        f"restore {RID} cannot carry on: its checkpoint's target_table {target!r} is not allowed: this "
        "function restores only into 'ledger' or tables whose names start with it (e.g. ledger-restored)"
    )


@pytest.mark.parametrize(
    "key",
    [
        "secrets/manifest.json",
        "backups/../secrets/manifest.json",
        "backups/ledger/..",
        "backups-private/ledger/manifest.json",
        "",
    ],
)
def test_a_resumed_restore_from_outside_the_prefix_is_refused(key: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        check_resumed(progress(source_key=key), SETTINGS)
    assert str(caught.value) == (
        f"restore {RID} cannot carry on: its checkpoint's source_key {key!r} is outside the backup "
        "prefix 'backups/'"
    )


def test_a_new_restore_takes_the_request_options_and_the_functions_tuning() -> None:
    assert restore_options(request(), SETTINGS) == RestoreOptions(
        create_table=True, overwrite=False, writers=3, key_schema=None, max_items_per_second=500
    )
    chosen = restore_options(
        request(create_table=False, overwrite=True, max_items_per_second=20, key_schema=[HASH]), SETTINGS
    )
    assert chosen == RestoreOptions(
        create_table=False,
        overwrite=True,
        writers=3,
        key_schema=key_schema_from_json([HASH]),
        max_items_per_second=20,
    )


def test_without_any_rate_the_restore_is_unlimited() -> None:
    assert restore_options(request(), UNLIMITED).max_items_per_second is None
    assert restore_options(request(), UNLIMITED).writers == 4


@pytest.mark.parametrize(
    "event",
    [
        ContinuationEvent.model_validate({"continuation": {"checkpoint_key": "backups/restores/x/c.json"}}),
        ResumeRestoreEvent(resume="20261125T030000Z-0123abcd"),
    ],
)
def test_a_continued_restore_keeps_only_the_functions_tuning(
    event: ContinuationEvent | ResumeRestoreEvent,
) -> None:
    assert restore_options(event, SETTINGS) == RestoreOptions(writers=3, max_items_per_second=500)
