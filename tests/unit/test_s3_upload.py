"""S3MultipartUpload: one PutObject when small, fixed-size parts when big, invisible until committed."""

import hashlib
from typing import TYPE_CHECKING, cast

import pytest
from botocore.exceptions import ClientError

from ledger_backup.storage.s3_upload import MIN_PART_SIZE, S3MultipartUpload
from tests.unit.stand_ins import RecordingS3

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

PART = MIN_PART_SIZE  # the smallest part S3 allows keeps these tests small


def upload(s3: RecordingS3, part_size: int = PART) -> S3MultipartUpload:
    return S3MultipartUpload(cast("S3Client", s3), "bkt", "backups/t/data/f.json.gz", part_size)


def pattern(size: int, seed: int = 0) -> bytes:
    """Bytes that differ position by position, so a misplaced or reused chunk shows."""
    block = hashlib.sha256(str(seed).encode()).digest() * 4096  # 128 KiB
    return (block * (size // len(block) + 1))[:size]


def test_small_object_is_one_put_object() -> None:
    s3 = RecordingS3()
    sink = upload(s3)
    assert sink.write(b"hello ") == 6
    assert sink.write(b"world") == 5
    assert s3.calls == []  # nothing is sent before commit
    sink.commit()
    assert s3.names() == ["put_object"]
    assert s3.calls[0].params == {"Bucket": "bkt", "Key": "backups/t/data/f.json.gz", "Body": b"hello world"}
    assert s3.objects["backups/t/data/f.json.gz"] == b"hello world"


def test_empty_upload_commits_an_empty_object() -> None:
    s3 = RecordingS3()
    upload(s3).commit()
    assert s3.names() == ["put_object"]
    assert s3.objects["backups/t/data/f.json.gz"] == b""


def test_just_under_one_part_is_still_one_put_object() -> None:
    s3 = RecordingS3()
    sink = upload(s3)
    data = pattern(PART - 1)
    sink.write(data)
    sink.commit()
    assert s3.names() == ["put_object"]
    assert s3.objects["backups/t/data/f.json.gz"] == data


def test_big_object_goes_in_parts_of_exactly_part_size_and_the_remainder() -> None:
    s3 = RecordingS3()
    sink = upload(s3)
    data = pattern(2 * PART + 12345)
    for start in range(0, len(data), 1_000_003):  # writes that do not line up with parts
        sink.write(data[start : start + 1_000_003])
    assert "backups/t/data/f.json.gz" not in s3.objects  # invisible until committed
    sink.commit()
    assert s3.names() == [
        "create_multipart_upload",
        "upload_part",
        "upload_part",
        "upload_part",
        "complete_multipart_upload",
    ]
    parts = s3.calls_of("upload_part")
    assert [len(p.params["Body"]) for p in parts] == [PART, PART, 12345]
    assert [p.params["PartNumber"] for p in parts] == [1, 2, 3]
    assert {p.params["UploadId"] for p in parts} == {"upload-1"}
    complete = s3.calls_of("complete_multipart_upload")[0].params
    assert complete["UploadId"] == "upload-1"
    assert complete["MultipartUpload"] == {
        "Parts": [
            {"ETag": '"part-1"', "PartNumber": 1},
            {"ETag": '"part-2"', "PartNumber": 2},
            {"ETag": '"part-3"', "PartNumber": 3},
        ]
    }
    assert s3.objects["backups/t/data/f.json.gz"] == data  # the bytes received are the bytes written


def test_exact_multiple_of_part_size_sends_no_empty_last_part() -> None:
    s3 = RecordingS3()
    sink = upload(s3)
    data = pattern(2 * PART, seed=1)
    sink.write(data)  # one write spanning two parts
    sink.commit()
    assert [len(p.params["Body"]) for p in s3.calls_of("upload_part")] == [PART, PART]
    assert s3.objects["backups/t/data/f.json.gz"] == data


def test_a_part_goes_up_as_soon_as_it_is_full() -> None:
    s3 = RecordingS3()
    sink = upload(s3)
    sink.write(pattern(PART - 1))
    assert s3.calls == []
    sink.write(b"x")
    assert s3.names() == ["create_multipart_upload", "upload_part"]
    sink.flush()  # flushing never sends a short part
    assert len(s3.calls_of("upload_part")) == 1
    sink.abort()


def test_memoryview_and_bytearray_inputs() -> None:
    s3 = RecordingS3()
    sink = upload(s3)
    data = pattern(PART + 7, seed=2)
    sink.write(memoryview(data)[:100])  # type: ignore[arg-type]  # any bytes-like object is taken
    sink.write(bytearray(data[100:]))  # type: ignore[arg-type]
    sink.commit()
    assert s3.objects["backups/t/data/f.json.gz"] == data


def test_a_failing_complete_aborts_the_upload_and_reraises() -> None:
    s3 = RecordingS3(fail_on={"complete_multipart_upload": 0})
    sink = upload(s3)
    sink.write(pattern(PART + 1))
    with pytest.raises(ClientError, match="InternalError"):
        sink.commit()
    assert s3.names()[-1] == "abort_multipart_upload"
    assert s3.calls[-1].params == {"Bucket": "bkt", "Key": "backups/t/data/f.json.gz", "UploadId": "upload-1"}
    assert s3.objects == {}
    assert s3.uploads == {}  # S3 freed the parts


def test_a_failing_last_part_aborts_the_upload() -> None:
    s3 = RecordingS3(fail_on={"upload_part": 1})  # the first part goes up, the last one fails
    sink = upload(s3)
    sink.write(pattern(PART + 10))
    with pytest.raises(ClientError):
        sink.commit()
    assert s3.names() == [
        "create_multipart_upload",
        "upload_part",
        "upload_part",
        "abort_multipart_upload",
    ]
    assert s3.objects == {}


def test_a_failing_put_object_leaves_nothing_to_abort() -> None:
    s3 = RecordingS3(fail_on={"put_object": 0})
    sink = upload(s3)
    sink.write(b"small")
    with pytest.raises(ClientError):
        sink.commit()
    assert s3.names() == ["put_object"]  # no multipart upload was started, so none is aborted
    with pytest.raises(ValueError, match="finished"):
        sink.write(b"more")


def test_abort_drops_the_parts_sent_and_is_idempotent() -> None:
    s3 = RecordingS3()
    sink = upload(s3)
    sink.write(pattern(PART))
    sink.abort()
    sink.abort()
    assert s3.names() == ["create_multipart_upload", "upload_part", "abort_multipart_upload"]
    assert s3.objects == {}


def test_abort_before_any_part_calls_nothing() -> None:
    s3 = RecordingS3()
    sink = upload(s3)
    sink.write(b"abc")
    sink.abort()
    assert s3.calls == []


def test_write_after_commit_or_abort_is_refused() -> None:
    s3 = RecordingS3()
    committed = upload(s3)
    committed.write(b"a")
    committed.commit()
    with pytest.raises(ValueError, match="finished"):
        committed.write(b"b")
    committed.commit()  # a second commit changes nothing
    assert s3.names() == ["put_object"]
    aborted = upload(s3)
    aborted.abort()
    with pytest.raises(ValueError, match="finished"):
        aborted.write(b"b")


def test_part_size_below_the_s3_minimum_is_refused() -> None:
    with pytest.raises(ValueError, match=str(MIN_PART_SIZE)):
        upload(RecordingS3(), part_size=MIN_PART_SIZE - 1)
    assert MIN_PART_SIZE == 5 * 1024 * 1024


def test_bigger_part_size_is_honoured() -> None:
    s3 = RecordingS3()
    sink = upload(s3, part_size=PART + 1000)
    data = pattern(2 * PART + 2001, seed=3)
    sink.write(data)
    sink.commit()
    assert [len(p.params["Body"]) for p in s3.calls_of("upload_part")] == [PART + 1000, PART + 1000, 1]
    assert s3.objects["backups/t/data/f.json.gz"] == data


@pytest.mark.parametrize("how", ["abort", "failed-commit"])
def test_commit_after_the_upload_was_dropped_is_refused(how: str) -> None:
    s3 = RecordingS3(fail_on={"put_object": 0} if how == "failed-commit" else None)
    sink = upload(s3)
    sink.write(b"data")
    if how == "abort":
        sink.abort()
    else:
        with pytest.raises(ClientError):
            sink.commit()
    with pytest.raises((ValueError, RuntimeError, OSError)):  # any loud refusal will do
        sink.commit()
    assert s3.objects == {}
