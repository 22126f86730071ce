"""The requests the proxy sees: which service and operation, and whether repeating one is safe."""

import email.message
import json
from dataclasses import dataclass
from functools import cached_property
from typing import Any
from urllib.parse import parse_qs, urlsplit

_DYNAMODB_TARGET_PREFIX = "DynamoDB_20120810."
# Repeating these after their first attempt took effect gives the same result.
_DYNAMODB_IDEMPOTENT = frozenset(
    {
        "BatchGetItem",
        "BatchWriteItem",
        "DescribeTable",
        "DescribeTimeToLive",
        "GetItem",
        "ListTables",
        "Query",
        "Scan",
    }
)
_S3_IDEMPOTENT = frozenset(
    {"GetObject", "HeadObject", "HeadBucket", "ListObjectsV2", "ListObjects", "PutObject", "UploadPart"}
)


@dataclass(frozen=True)
class ProxiedRequest:
    """One request as the client sent it, with the service and operation it names."""

    method: str
    target: str  # path and query, exactly as sent
    headers: email.message.Message
    body: bytes
    chunked: bool
    trailers: tuple[tuple[str, str], ...] = ()

    @cached_property
    def service(self) -> str:
        target = self.headers.get("X-Amz-Target", "")
        return "dynamodb" if target.startswith(_DYNAMODB_TARGET_PREFIX) else "s3"

    @cached_property
    def operation(self) -> str:
        """DynamoDB's X-Amz-Target action, or the S3 operation the method, path and query make."""
        if self.service == "dynamodb":
            return str(self.headers["X-Amz-Target"])[len(_DYNAMODB_TARGET_PREFIX) :]
        return s3_operation(self.method, self.target, self.headers)

    def json(self) -> Any:
        """The body as JSON (DynamoDB requests), or None when it is not JSON. Do not modify it."""
        return self._parsed

    @cached_property
    def _parsed(self) -> Any:
        try:
            return json.loads(self.body)
        except ValueError:
            return None

    @cached_property
    def idempotent(self) -> bool:
        """Whether doing this request twice leaves the same state and gets the same answer."""
        if self.service == "dynamodb":
            return self.operation in _DYNAMODB_IDEMPOTENT
        if self.operation == "PutObject" and ("If-None-Match" in self.headers or "If-Match" in self.headers):
            return False  # a repeated conditional put fails with 412 PreconditionFailed
        return self.operation in _S3_IDEMPOTENT


_S3_SIMPLE = {
    ("GET", True): "GetObject",
    ("HEAD", True): "HeadObject",
    ("HEAD", False): "HeadBucket",
    ("PUT", False): "CreateBucket",
    ("DELETE", True): "DeleteObject",
    ("DELETE", False): "DeleteBucket",
}
_S3_POST = (
    ("uploads", "CreateMultipartUpload"),
    ("uploadId", "CompleteMultipartUpload"),
    ("delete", "DeleteObjects"),
)


def s3_operation(method: str, target: str, headers: email.message.Message) -> str:
    """Name the S3 operation of a path-style request (what botocore sends to an IP endpoint)."""
    parts = urlsplit(target)
    query = parse_qs(parts.query, keep_blank_values=True)
    on_key = "/" in parts.path.strip("/")
    copy = "x-amz-copy-source" in headers
    if method == "PUT" and on_key and "partNumber" in query:
        name = "UploadPartCopy" if copy else "UploadPart"
    elif method == "PUT" and on_key:
        name = "CopyObject" if copy else "PutObject"
    elif method == "POST":
        name = next((operation for flag, operation in _S3_POST if flag in query), "PostObject")
    elif method == "DELETE" and "uploadId" in query:
        name = "AbortMultipartUpload"
    elif method == "GET" and not on_key:
        name = "ListObjectsV2" if query.get("list-type") == ["2"] else "ListObjects"
    else:
        name = _S3_SIMPLE.get((method, on_key), method)
    return name


def batch_write_requests(request: ProxiedRequest) -> list[tuple[str, Any]]:
    """(table, write request) pairs of a BatchWriteItem, in order; [] if the body is not one."""
    document = request.json()
    if not isinstance(document, dict) or not isinstance(document.get("RequestItems"), dict):
        return []
    return [
        (table, write)
        for table, writes in document["RequestItems"].items()
        if isinstance(writes, list)
        for write in writes
    ]
