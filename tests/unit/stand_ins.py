# ruff: noqa: N803  # the methods take boto3's parameter names (Bucket=, Key=, TableName=)
"""Small in-memory stand-ins for the boto3 clients the core calls, recording every call.

Each implements only the methods the code under test uses, answering like the service does
(the same response shapes, the same error codes as botocore's ClientError), so the unit tests
run in milliseconds without DynamoDB Local or an S3 server.
"""

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from ledger_backup.aws.scan_texts import ItemTextPage
from ledger_backup.codec import encode_item


def client_error(code: str, operation: str, status: int = 400, message: str = "") -> ClientError:
    """A ClientError as botocore raises it for a service's error answer."""
    response: Any = {
        "Error": {"Code": code, "Message": message or code},
        "ResponseMetadata": {"HTTPStatusCode": status},
    }
    return ClientError(response, operation)


@dataclass
class Call:
    name: str
    params: dict[str, Any]


class RecordingS3:
    """An S3 bucket in memory: objects, multipart uploads, listing, batch deletes.

    `fail_on` maps an operation name to the number of calls of it that succeed before it
    raises `InternalError` (0: the first call fails).
    """

    def __init__(self, list_page_size: int = 1000, fail_on: dict[str, int] | None = None) -> None:
        self.objects: dict[str, bytes] = {}
        self.etags: dict[str, str] = {}
        self.calls: list[Call] = []
        self.uploads: dict[str, dict[int, bytes]] = {}
        self.list_page_size = list_page_size
        self.fail_on = dict(fail_on or {})
        self._next_upload = 0
        self._lock = threading.Lock()

    def _record(self, name: str, params: dict[str, Any]) -> None:
        with self._lock:
            self.calls.append(Call(name, params))
            left = self.fail_on.get(name)
            if left is not None:
                if left == 0:
                    raise client_error("InternalError", name, 500)
                self.fail_on[name] = left - 1

    def names(self) -> list[str]:
        return [c.name for c in self.calls]

    def calls_of(self, name: str) -> list[Call]:
        return [c for c in self.calls if c.name == name]

    def _store(self, key: str, data: bytes) -> None:
        self.objects[key] = data
        self.etags[key] = f'"etag-{len(self.etags)}"'

    def put_object(self, *, Bucket: str, Key: str, Body: bytes | bytearray, **extra: Any) -> dict[str, Any]:
        data = bytes(Body)  # a bytearray the caller reuses: keep what was sent
        self._record("put_object", {"Bucket": Bucket, "Key": Key, "Body": data, **extra})
        if extra.get("IfNoneMatch") == "*" and Key in self.objects:
            raise client_error("PreconditionFailed", "PutObject", 412)
        self._store(Key, data)
        return {"ETag": self.etags[Key]}

    def get_object(self, *, Bucket: str, Key: str, **extra: Any) -> dict[str, Any]:
        self._record("get_object", {"Bucket": Bucket, "Key": Key, **extra})
        if Key not in self.objects:
            raise client_error("NoSuchKey", "GetObject", 404)
        return {"Body": MemoryBody(self.objects[Key]), "ETag": self.etags[Key]}

    def head_object(self, *, Bucket: str, Key: str) -> dict[str, Any]:
        self._record("head_object", {"Bucket": Bucket, "Key": Key})
        if Key not in self.objects:
            raise client_error("404", "HeadObject", 404, "Not Found")
        return {"ETag": self.etags[Key], "ContentLength": len(self.objects[Key])}

    def create_multipart_upload(self, *, Bucket: str, Key: str) -> dict[str, Any]:
        self._record("create_multipart_upload", {"Bucket": Bucket, "Key": Key})
        self._next_upload += 1
        upload_id = f"upload-{self._next_upload}"
        self.uploads[upload_id] = {}
        return {"UploadId": upload_id, "Bucket": Bucket, "Key": Key}

    def upload_part(
        self, *, Bucket: str, Key: str, UploadId: str, PartNumber: int, Body: bytes | bytearray
    ) -> dict[str, Any]:
        data = bytes(Body)
        self._record(
            "upload_part",
            {"Bucket": Bucket, "Key": Key, "UploadId": UploadId, "PartNumber": PartNumber, "Body": data},
        )
        self.uploads[UploadId][PartNumber] = data
        return {"ETag": f'"part-{PartNumber}"'}

    def complete_multipart_upload(
        self, *, Bucket: str, Key: str, UploadId: str, MultipartUpload: dict[str, Any]
    ) -> dict[str, Any]:
        self._record(
            "complete_multipart_upload",
            {"Bucket": Bucket, "Key": Key, "UploadId": UploadId, "MultipartUpload": MultipartUpload},
        )
        parts = self.uploads.pop(UploadId)
        numbers = [p["PartNumber"] for p in MultipartUpload["Parts"]]
        assert numbers == sorted(parts), "S3 wants every part listed, in ascending order"
        self._store(Key, b"".join(parts[n] for n in numbers))
        return {"ETag": self.etags[Key]}

    def abort_multipart_upload(self, *, Bucket: str, Key: str, UploadId: str) -> dict[str, Any]:
        self._record("abort_multipart_upload", {"Bucket": Bucket, "Key": Key, "UploadId": UploadId})
        self.uploads.pop(UploadId, None)
        return {}

    def delete_objects(self, *, Bucket: str, Delete: dict[str, Any]) -> dict[str, Any]:
        self._record("delete_objects", {"Bucket": Bucket, "Delete": Delete})
        assert len(Delete["Objects"]) <= 1000, "S3 refuses more than 1000 keys per DeleteObjects"
        for entry in Delete["Objects"]:
            self.objects.pop(entry["Key"], None)
        return {}

    def get_paginator(self, operation: str) -> "_ListPaginator":
        assert operation == "list_objects_v2", operation
        return _ListPaginator(self)


class _ListPaginator:
    def __init__(self, s3: RecordingS3) -> None:
        self.s3 = s3

    def paginate(self, *, Bucket: str, Prefix: str = "") -> Iterator[dict[str, Any]]:
        self.s3._record("list_objects_v2", {"Bucket": Bucket, "Prefix": Prefix})
        keys = sorted(k for k in self.s3.objects if k.startswith(Prefix))
        size = self.s3.list_page_size
        if not keys:
            yield {"KeyCount": 0}  # S3 leaves Contents out of an empty page
            return
        for start in range(0, len(keys), size):
            yield {"Contents": [{"Key": k} for k in keys[start : start + size]]}


class MemoryBody:
    """A GetObject Body over bytes: read(n), close()."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.at = 0
        self.closed = False

    def read(self, amt: int | None = None) -> bytes:
        end = len(self.data) if amt is None else min(len(self.data), self.at + amt)
        chunk = self.data[self.at : end]
        self.at = end
        return chunk

    def close(self) -> None:
        self.closed = True


# --- DynamoDB ------------------------------------------------------------------------------


def table_description(
    name: str = "ledger",
    *,
    key_schema: list[dict[str, str]] | None = None,
    attribute_definitions: list[dict[str, str]] | None = None,
    item_count: int = 0,
    size_bytes: int = 0,
) -> dict[str, Any]:
    """DescribeTable's `Table` for an on-demand table with hash key `pk` (S)."""
    return {
        "TableName": name,
        "TableArn": f"arn:aws:dynamodb:eu-west-1:123456789012:table/{name}",
        "TableStatus": "ACTIVE",
        "KeySchema": key_schema or [{"AttributeName": "pk", "KeyType": "HASH"}],
        "AttributeDefinitions": attribute_definitions or [{"AttributeName": "pk", "AttributeType": "S"}],
        "BillingModeSummary": {"BillingMode": "PAY_PER_REQUEST"},
        "ItemCount": item_count,
        "TableSizeBytes": size_bytes,
    }


@dataclass
class _Meta:
    region_name: str = "eu-west-1"


@dataclass
class ScanTable:
    """A DynamoDB table in memory that answers a parallel, paginated Scan.

    `segments[n]` holds segment n's items in scan order (each with a unique `pk` S key);
    pages hold `PaginationConfig.PageSize` items and carry LastEvaluatedKey whenever they are
    full (so a segment whose size is a multiple of the page size ends with an empty page, as
    DynamoDB's do), and ExclusiveStartKey resumes after that key. `fail` maps
    a segment to the number of pages it serves before its next page raises an error.
    `before_page(segment, page_number)` runs before each page is served (to order threads);
    `page_hook(segment, items)` can return extra page members (e.g. `texts`, see `pages`).
    """

    description: dict[str, Any]
    segments: list[list[dict[str, Any]]]
    ttl: dict[str, Any] | None = None
    fail: dict[int, int] = field(default_factory=dict)
    before_page: Callable[[int, int], None] | None = None
    page_hook: Callable[[int, list[dict[str, Any]]], dict[str, Any]] | None = None
    meta: _Meta = field(default_factory=_Meta)
    scan_requests: list[dict[str, Any]] = field(default_factory=list)
    pages_served: list[tuple[int, int]] = field(default_factory=list)  # (segment, item count)
    calls: list[str] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def describe_table(self, *, TableName: str) -> dict[str, Any]:
        self.calls.append("describe_table")
        if TableName != self.description["TableName"]:
            raise client_error("ResourceNotFoundException", "DescribeTable", message="Table not found")
        return {"Table": self.description}

    def describe_time_to_live(self, *, TableName: str) -> dict[str, Any]:
        self.calls.append("describe_time_to_live")
        return {"TimeToLiveDescription": self.ttl or {"TimeToLiveStatus": "DISABLED"}}

    def get_paginator(self, operation: str) -> "_ScanPaginator":
        assert operation == "scan", operation
        return _ScanPaginator(self)

    def pages(self, **scan_params: Any) -> Iterator[ItemTextPage]:
        """The backup's view (aws.scan_texts.ItemTextPages): each page's items as JSON texts.

        `page_hook` may give a page's texts as they came off the wire under `texts`.
        """
        with self._lock:
            self.scan_requests.append(dict(scan_params))
        request = {k: v for k, v in scan_params.items() if k != "Limit"}
        request["PaginationConfig"] = {"PageSize": scan_params["Limit"]}
        for page in _ScanPaginator(self).paginate(record=False, **request):
            texts = page.get("texts")
            if not isinstance(texts, list):
                texts = [encode_item(item) for item in page["Items"]]
            yield ItemTextPage(texts, page.get("LastEvaluatedKey"))


class _ScanPaginator:
    def __init__(self, table: ScanTable) -> None:
        self.table = table

    def paginate(self, record: bool = True, **request: Any) -> Iterator[dict[str, Any]]:
        table = self.table
        if record:
            with table._lock:
                table.scan_requests.append(request)
        assert request["TableName"] == table.description["TableName"]
        assert request["TotalSegments"] == len(table.segments)
        segment: int = request["Segment"]
        items = table.segments[segment]
        page_size: int = request["PaginationConfig"]["PageSize"]
        position = 0
        start_key = request.get("ExclusiveStartKey")
        if start_key is not None:
            keys = [item["pk"] for item in items]
            position = keys.index(start_key["pk"]) + 1
        pages = 0
        while True:
            if table.before_page is not None:
                table.before_page(segment, pages)
            if table.fail.get(segment) == pages:
                raise client_error("InternalServerError", "Scan", 500)
            chunk = items[position : position + page_size]
            position += len(chunk)
            page: dict[str, Any] = {"Items": chunk, "Count": len(chunk), "ScannedCount": len(chunk)}
            if chunk and len(chunk) == page_size:  # DynamoDB stops at Limit: maybe more, maybe not
                page["LastEvaluatedKey"] = {"pk": chunk[-1]["pk"]}
            if table.page_hook is not None:
                page.update(table.page_hook(segment, chunk))
            with table._lock:
                table.pages_served.append((segment, len(chunk)))
            pages += 1
            yield page
            if "LastEvaluatedKey" not in page:
                return
