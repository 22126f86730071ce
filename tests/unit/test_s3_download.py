"""ResumingBody: a GetObject body that breaks off mid-stream is asked for again from where it stopped."""

import io
from typing import TYPE_CHECKING, Any, cast

import pytest
from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    IncompleteReadError,
    ReadTimeoutError,
    ResponseStreamingError,
)

from ledger_backup.storage.s3_download import ResumingBody
from tests.unit.stand_ins import client_error

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

DATA = bytes(range(256)) * 40  # 10,240 bytes, every position distinct mod 256


class BreakingBody:
    """Serves `data` and raises `error` once `break_after` bytes have been read (None: never)."""

    def __init__(self, data: bytes, break_after: int | None, error: Exception) -> None:
        self.data = data
        self.at = 0
        self.break_after = break_after
        self.error = error
        self.closed = False

    def read(self, amt: int | None = None) -> bytes:
        if self.break_after is not None and self.at >= self.break_after:
            raise self.error
        end = len(self.data) if amt is None else self.at + amt
        if self.break_after is not None:
            end = min(end, self.break_after)
        chunk = self.data[self.at : end]
        self.at += len(chunk)
        return chunk

    def close(self) -> None:
        self.closed = True


def incomplete() -> Exception:
    return IncompleteReadError(actual_bytes=1, expected_bytes=2)


class ResumingS3:
    """Answers ranged GetObjects of DATA; each answer breaks after `breaks[n]` bytes (None: whole)."""

    def __init__(self, breaks: list[int | None], error: Exception | None = None) -> None:
        self.breaks = list(breaks)
        self.error = error or incomplete()
        self.requests: list[dict[str, Any]] = []
        self.bodies: list[BreakingBody] = []

    def first_response(self, break_after: int | None) -> dict[str, Any]:
        body = BreakingBody(DATA, break_after, self.error)
        self.bodies.append(body)
        return {"Body": body, "ETag": '"v1"'}

    def get_object(self, **request: Any) -> dict[str, Any]:
        self.requests.append(request)
        start = int(request["Range"].removeprefix("bytes=").removesuffix("-"))
        body = BreakingBody(DATA[start:], self.breaks.pop(0) if self.breaks else None, self.error)
        self.bodies.append(body)
        return {"Body": body, "ETag": '"v1"'}


def resuming(s3: ResumingS3, first_break: int | None, retries: int = 5) -> ResumingBody:
    return ResumingBody(cast("S3Client", s3), "bkt", "k", s3.first_response(first_break), retries=retries)


def test_unbroken_body_is_read_as_is_without_new_requests() -> None:
    s3 = ResumingS3([])
    with io.BufferedReader(resuming(s3, None), buffer_size=1000) as stream:
        assert stream.read() == DATA
    assert s3.requests == []


@pytest.mark.parametrize(
    "error",
    [
        IncompleteReadError(actual_bytes=3000, expected_bytes=10240),
        ResponseStreamingError(error=ConnectionResetError("reset by peer")),
        ReadTimeoutError(endpoint_url="https://s3"),
        ConnectionClosedError(endpoint_url="https://s3"),
    ],
    ids=["incomplete-read", "response-streaming", "read-timeout", "connection-closed"],
)
def test_a_break_is_resumed_from_the_position_with_if_match(error: Exception) -> None:
    s3 = ResumingS3([None], error)
    with io.BufferedReader(resuming(s3, 3000), buffer_size=1024) as stream:
        assert stream.read() == DATA
    assert s3.requests == [{"Bucket": "bkt", "Key": "k", "Range": "bytes=3000-", "IfMatch": '"v1"'}]
    assert s3.bodies[0].closed  # the broken connection is let go


def test_several_breaks_each_resume_from_where_the_last_stopped() -> None:
    s3 = ResumingS3([1000, 1, 2000, None])
    raw = resuming(s3, 500)
    with io.BufferedReader(raw, buffer_size=300) as stream:
        chunks = []
        while chunk := stream.read(777):
            chunks.append(chunk)
    assert b"".join(chunks) == DATA
    assert [r["Range"] for r in s3.requests] == ["bytes=500-", "bytes=1500-", "bytes=1501-", "bytes=3501-"]
    assert {r["IfMatch"] for r in s3.requests} == {'"v1"'}


def test_readinto_returns_what_it_read() -> None:
    s3 = ResumingS3([None])
    raw = resuming(s3, 10)
    buffer = bytearray(64)
    assert raw.readinto(buffer) == 10  # a short read is allowed before the break is seen
    assert bytes(buffer[:10]) == DATA[:10]
    assert raw.readinto(buffer) == 64  # the break: asked again from byte 10
    assert bytes(buffer) == DATA[10:74]
    assert s3.requests[0]["Range"] == "bytes=10-"


def test_gives_up_after_retries_and_raises_the_stream_error() -> None:
    s3 = ResumingS3([0, 0, 0, 0], incomplete())
    raw = resuming(s3, 100, retries=3)
    with pytest.raises(IncompleteReadError):
        raw.read()
    assert len(s3.requests) == 3  # the first body plus three resumes, then the error
    assert all(r["Range"] == "bytes=100-" for r in s3.requests)


def test_retries_zero_never_asks_again() -> None:
    s3 = ResumingS3([])
    raw = resuming(s3, 5, retries=0)
    assert raw.read(5) == DATA[:5]
    with pytest.raises(IncompleteReadError):
        raw.read(5)
    assert s3.requests == []


def test_retries_are_per_read_so_a_long_body_survives_many_scattered_breaks() -> None:
    s3 = ResumingS3([1000] * 9 + [None])
    with io.BufferedReader(resuming(s3, 1000, retries=1), buffer_size=512) as stream:
        assert stream.read() == DATA
    assert len(s3.requests) == 10


def test_a_changed_object_is_never_stitched_on(monkeypatch: pytest.MonkeyPatch) -> None:
    s3 = ResumingS3([])

    def changed(**request: Any) -> dict[str, Any]:
        s3.requests.append(request)
        raise client_error("PreconditionFailed", "GetObject", 412)

    monkeypatch.setattr(s3, "get_object", changed)
    raw = resuming(s3, 100)
    assert raw.read(100) == DATA[:100]
    with pytest.raises(ClientError, match="PreconditionFailed"):
        raw.read(100)
    assert s3.requests == [{"Bucket": "bkt", "Key": "k", "Range": "bytes=100-", "IfMatch": '"v1"'}]


def test_other_errors_are_not_retried() -> None:
    s3 = ResumingS3([], ValueError("not a stream problem"))
    raw = resuming(s3, 0)
    with pytest.raises(ValueError, match="not a stream problem"):
        raw.read(10)
    assert s3.requests == []


def test_close_closes_the_current_body_once() -> None:
    s3 = ResumingS3([None])
    raw = resuming(s3, 10)
    raw.read(100)
    raw.read(100)
    raw.close()
    raw.close()
    assert raw.closed
    assert all(body.closed for body in s3.bodies)
    assert raw.readable()
