"""Read an S3 object as a stream that survives a connection breaking off mid-body.

botocore retries a GetObject whose *answer* fails, but not a body that stops arriving
after the headers: that surfaces as an error in the middle of a restore. This stream asks
S3 again for the rest (a Range from the current position, If-Match the same ETag, so a
changed object is never stitched onto the old one) a few times before giving up.
"""

import io
from typing import TYPE_CHECKING, Any

from botocore.exceptions import (
    ConnectionClosedError,
    IncompleteReadError,
    ReadTimeoutError,
    ResponseStreamingError,
)

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

_BROKEN_STREAM = (IncompleteReadError, ResponseStreamingError, ReadTimeoutError, ConnectionClosedError)


class ResumingBody(io.RawIOBase):
    """A raw stream over one object version; wrap it in io.BufferedReader."""

    def __init__(self, client: "S3Client", bucket: str, key: str, response: Any, retries: int = 5) -> None:
        super().__init__()
        self._client = client
        self._bucket = bucket
        self._key = key
        self._etag: str = response["ETag"]
        self._body = response["Body"]
        self._position = 0
        self._retries = retries

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        for attempt in range(self._retries + 1):
            try:
                data: bytes = self._body.read(len(view))
                break
            except _BROKEN_STREAM:
                if attempt == self._retries:
                    raise
                self._body.close()
                self._body = self._client.get_object(
                    Bucket=self._bucket, Key=self._key, Range=f"bytes={self._position}-", IfMatch=self._etag
                )["Body"]
        view[: len(data)] = data
        self._position += len(data)
        return len(data)

    def close(self) -> None:
        if not self.closed:
            self._body.close()
        super().close()
