"""A backup's checkpoint: what each segment wrote and where it stands, exactly as saved."""

import json

import pytest

from ledger_backup.backup.progress import BackupProgress, SegmentProgress
from ledger_backup.errors import CorruptBackup
from ledger_backup.manifest import DataFile
from ledger_backup.schema import TableSchema

SCHEMA = TableSchema(
    key_schema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
    attribute_definitions=[
        {"AttributeName": "pk", "AttributeType": "B"},
        {"AttributeName": "sk", "AttributeType": "N"},
    ],
    ttl_attribute="expires",
)
FOLDER = "backups/ledger/2026-11-25T03-00-00.123Z/"


def data_file(segment: int, part: int, items: int, writer: str = "w1") -> DataFile:
    return DataFile(
        key=f"data/segment-{segment:04d}-part-{part:04d}-{writer}.json.gz",
        item_count=items,
        compressed_bytes=items * 10,
        uncompressed_bytes=items * 40,
        sha256=f"{segment:02d}{part:02d}".ljust(64, "a"),
    )


def progress(*segments: SegmentProgress, invocations: int = 1) -> BackupProgress:
    return BackupProgress(
        table_name="ledger",
        table_arn="arn:aws:dynamodb:eu-west-1:123456789012:table/ledger",
        schema=SCHEMA,
        folder=FOLDER,
        started_at="2026-11-25T03:00:00.123000+00:00",
        page_size=250,
        invocations=invocations,
        segments=segments,
    )


BINARY_KEY = {
    "pk": {"B": b"\x00\xff\x10 not utf-8 \xc3("},
    "sk": {"N": "12345678901234567890123456789012345678"},
}


def test_round_trip_keeps_every_field_and_binary_start_keys() -> None:
    original = progress(
        SegmentProgress(done=True, files=(data_file(0, 0, 5), data_file(0, 1, 2))),
        SegmentProgress(done=False, start_key=BINARY_KEY, files=(data_file(1, 0, 3),)),
        SegmentProgress(),
        invocations=3,
    )
    raw = original.to_json_bytes()
    restored = BackupProgress.from_json_bytes(raw, "s3://b/k")
    assert restored == original
    assert restored.segments[1].start_key == BINARY_KEY
    assert isinstance(restored.segments[1].start_key["pk"]["B"], bytes)


def test_the_saved_document_holds_start_keys_as_dynamodb_json_text() -> None:
    document = json.loads(progress(SegmentProgress(start_key=BINARY_KEY)).to_json_bytes())
    assert document["format"] == "ledger-backup-checkpoint"
    assert document["folder"] == FOLDER
    assert document["page_size"] == 250
    saved = document["segments"][0]["start_key"]
    assert isinstance(saved, str)
    assert json.loads(saved)["pk"] == {"B": "AP8QIG5vdCB1dGYtOCDDKA=="}  # base64, as DynamoDB JSON has it
    assert json.loads(saved)["sk"] == {"N": "12345678901234567890123456789012345678"}


def test_checkpoint_key_names_the_invocation_count_and_writer() -> None:
    assert progress(invocations=2).checkpoint_key("abc123") == (
        f"{FOLDER}progress/checkpoint-0002-abc123.json"
    )
    assert progress(invocations=0).checkpoint_key("x").endswith("/progress/checkpoint-0000-x.json")


def test_finished_only_when_every_segment_is_done() -> None:
    assert not progress(SegmentProgress(done=True), SegmentProgress(done=False)).finished
    assert progress(SegmentProgress(done=True), SegmentProgress(done=True)).finished
    assert progress(SegmentProgress(done=True)).total_segments == 1


def test_files_are_every_segments_files_sorted_by_key_and_counted() -> None:
    p = progress(
        SegmentProgress(files=(data_file(1, 0, 4), data_file(1, 1, 6))),
        SegmentProgress(files=(data_file(0, 1, 1, "w2"), data_file(0, 0, 2))),
    )
    assert [f.key for f in p.files] == [
        "data/segment-0000-part-0000-w1.json.gz",
        "data/segment-0000-part-0001-w2.json.gz",
        "data/segment-0001-part-0000-w1.json.gz",
        "data/segment-0001-part-0001-w1.json.gz",
    ]
    assert p.item_count == 13
    assert progress(SegmentProgress()).item_count == 0


def test_with_segments_replaces_them_and_counts_one_more_invocation() -> None:
    before = progress(SegmentProgress(), invocations=4)
    after = before.with_segments([SegmentProgress(done=True, files=(data_file(0, 0, 9),))])
    assert after.invocations == 5
    assert after.finished
    assert after.item_count == 9
    assert before.invocations == 4  # immutable
    assert not before.finished


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        (b"{truncated", "Expecting property name"),
        (b'{"format": "something-else"}', "not a ledger-backup checkpoint"),
        (b"[1, 2]", "object has no attribute"),
        (b'{"format": "ledger-backup-checkpoint"}', "'table'"),
        (b"\xff\xfe", ""),
    ],
)
def test_unreadable_checkpoints_are_corrupt_and_named(raw: bytes, problem: str) -> None:
    with pytest.raises(CorruptBackup, match=r"checkpoint s3://bkt/ckpt\.json is unreadable") as caught:
        BackupProgress.from_json_bytes(raw, "s3://bkt/ckpt.json")
    assert problem in str(caught.value)


def test_a_checkpoint_with_a_damaged_start_key_is_corrupt() -> None:
    document = json.loads(progress(SegmentProgress(start_key=BINARY_KEY)).to_json_bytes())
    document["segments"][0]["start_key"] = '{"pk": {"B": "not base64!"}}'
    with pytest.raises(CorruptBackup, match="invalid base64"):
        BackupProgress.from_json_bytes(json.dumps(document).encode(), "here")


def test_a_checkpoint_with_a_bad_file_entry_is_corrupt() -> None:
    document = json.loads(progress(SegmentProgress(files=(data_file(0, 0, 1),))).to_json_bytes())
    document["segments"][0]["files"][0]["item_count"] = -1
    with pytest.raises(CorruptBackup, match="here is unreadable"):
        BackupProgress.from_json_bytes(json.dumps(document).encode(), "here")
