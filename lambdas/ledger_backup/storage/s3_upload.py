"""Stream bytes of unknown length into one S3 object through multipart upload, in constant memory.

Small objects (under one part) go up as a single PutObject; anything that fails or is
never committed is aborted, so no partial object is ever visible under the key.
"""

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import CompletedPartTypeDef

MIN_PART_SIZE = 5 * 1024 * 1024  # S3's minimum for every part but the last


class S3MultipartUpload:
    """A write-only sink; its memory is one part-sized buffer, allocated once and reused.

    Growing a buffer part by part would make the upload's memory depend on how much it
    has been given (and reallocating it briefly holds two copies): a backup of a big table
    would then peak higher than one of a small table. A fixed buffer keeps every upload at
    the same footprint, and every part but the last at exactly `part_size` bytes.
    """

    def __init__(self, client: "S3Client", bucket: str, key: str, part_size: int) -> None:
        if part_size < MIN_PART_SIZE:
            raise ValueError(f"part_size must be at least {MIN_PART_SIZE} bytes")
        self.client = client
        self.bucket = bucket
        self.key = key
        self.part_size = part_size
        self._buffer = bytearray(part_size)
        self._filled = 0
        self._upload_id: str | None = None
        self._parts: list[CompletedPartTypeDef] = []
        self._closed = False
        self._committed = False

    def write(self, data: bytes) -> int:
        if self._closed:
            raise ValueError("write to a finished upload")
        remaining = memoryview(data).cast("B")
        while remaining:
            taken = remaining[: self.part_size - self._filled]
            self._buffer[self._filled : self._filled + len(taken)] = taken
            self._filled += len(taken)
            remaining = remaining[len(taken) :]
            if self._filled == self.part_size:
                self._upload_part()
        return len(data)

    def flush(self) -> None:
        """Parts go up when full; flushing early would break S3's minimum part size."""

    def commit(self) -> None:
        """Make the object visible; until this returns, nothing is under the key."""
        if self._committed:
            return
        if self._closed:
            raise ValueError(
                f"the upload of s3://{self.bucket}/{self.key} was aborted: nothing is under the key"
            )
        # The last part is what was filled; the buffer is not needed after it.
        del self._buffer[self._filled :]
        try:
            if self._upload_id is None:
                self.client.put_object(Bucket=self.bucket, Key=self.key, Body=self._buffer)  # type: ignore[arg-type]  # botocore sends a bytearray as is
            else:
                if self._filled:
                    self._upload_part()
                self.client.complete_multipart_upload(
                    Bucket=self.bucket,
                    Key=self.key,
                    UploadId=self._upload_id,
                    MultipartUpload={"Parts": self._parts},
                )
        except BaseException:
            self.abort()
            raise
        self._closed = self._committed = True
        self._buffer = bytearray()

    def abort(self) -> None:
        """Drop the upload; S3 frees the parts already sent."""
        self._closed = True
        self._buffer = bytearray()
        if self._upload_id is not None:
            upload_id, self._upload_id = self._upload_id, None
            self.client.abort_multipart_upload(Bucket=self.bucket, Key=self.key, UploadId=upload_id)

    def _upload_part(self) -> None:
        if self._upload_id is None:
            created = self.client.create_multipart_upload(Bucket=self.bucket, Key=self.key)
            self._upload_id = created["UploadId"]
        part_number = len(self._parts) + 1
        response = self.client.upload_part(
            Bucket=self.bucket,
            Key=self.key,
            UploadId=self._upload_id,
            PartNumber=part_number,
            Body=self._buffer,  # type: ignore[arg-type]  # not bytes(): no copy of an 8 MB part
        )
        self._parts.append({"ETag": response["ETag"], "PartNumber": part_number})
        self._filled = 0  # the call has returned: the buffer is free for the next part
