"""The backup core's guarantees: no manifest unless complete, nothing left behind, multipart streaming."""

import hashlib
import os
from typing import TYPE_CHECKING

import pytest

from devtools.ledger_items import ledger_items
from devtools.tables import create_table, load_items, scan_all
from ledger_backup.backup.run import BackupOptions, run_backup
from ledger_backup.catalog import list_backups
from ledger_backup.restore.run import run_restore
from ledger_backup.storage.s3_upload import S3MultipartUpload
from ledger_backup.storage.stores import S3Store, Upload

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_s3 import S3Client

pytestmark = pytest.mark.integration


class FailingStore(S3Store):
    """An S3 store whose Nth upload breaks mid-stream, like a network failure in one segment."""

    def __init__(self, client: "S3Client", bucket: str, fail_on_upload: int) -> None:
        super().__init__(client, bucket)
        self.uploads = 0
        self.fail_on_upload = fail_on_upload

    def open_upload(self, key: str) -> Upload:
        self.uploads += 1
        if self.uploads == self.fail_on_upload:
            raise ConnectionError("simulated S3 outage")
        return super().open_upload(key)


def test_failed_segment_leaves_no_manifest_and_no_files(
    dynamodb: "DynamoDBClient", s3: "S3Client", bucket: str, ledger_table: str
) -> None:
    store = FailingStore(s3, bucket, fail_on_upload=3)
    with pytest.raises(ConnectionError, match="simulated S3 outage"):
        run_backup(dynamodb, store, ledger_table, options=BackupOptions(total_segments=4, page_size=20))
    assert s3.list_objects_v2(Bucket=bucket).get("KeyCount") == 0
    assert list_backups(store, "backups/", ledger_table) == []
    # The next run starts clean and completes.
    result = run_backup(dynamodb, S3Store(s3, bucket), ledger_table)
    assert result.item_count == 399
    assert [b.manifest_key for b in list_backups(store, "backups/", ledger_table)] == [result.manifest_key]


def test_data_files_rotate_and_restore_in_full(
    dynamodb: "DynamoDBClient", s3: "S3Client", bucket: str, ledger_table: str
) -> None:
    store = S3Store(s3, bucket)
    options = BackupOptions(total_segments=2, page_size=25, max_file_bytes=100_000)
    result = run_backup(dynamodb, store, ledger_table, options=options)
    assert result.file_count >= 6  # ~1.4 MB of JSON, a new file once one passes 100 kB (checked per page)
    assert result.item_count == 399
    run_restore(dynamodb, store, result.manifest_key, f"{ledger_table}-r")
    assert scan_all(dynamodb, f"{ledger_table}-r", "book_id") == scan_all(dynamodb, ledger_table, "book_id")


def test_large_segment_streams_through_multipart_upload(
    dynamodb: "DynamoDBClient", s3: "S3Client", bucket: str, unique_name: str
) -> None:
    """One segment writing > 2 parts of 5 MiB: a real multipart upload, not one PutObject."""
    table = f"big-{unique_name}"
    create_table(dynamodb, table, hash_key="book_id")
    # Incompressible bytes, so the gzip stream really exceeds two parts.
    items = [{**item, "scan": {"B": os.urandom(10 * 1024)}} for item in ledger_items(1200)]
    load_items(dynamodb, table, items)
    store = S3Store(s3, bucket, part_size=5 * 1024 * 1024)
    result = run_backup(dynamodb, store, table, options=BackupOptions(total_segments=1))
    (data_key,) = [
        k for k in store.list_keys(result.manifest_key.removesuffix("manifest.json")) if "/data/" in k
    ]
    head = s3.head_object(Bucket=bucket, Key=data_key)
    assert head["ContentLength"] > 10 * 1024 * 1024
    assert head["ETag"].strip('"').endswith("-3")  # S3's multipart ETag: three parts
    run_restore(dynamodb, store, result.manifest_key, f"{table}-r")
    assert scan_all(dynamodb, f"{table}-r", "book_id") == scan_all(dynamodb, table, "book_id")


def test_multipart_upload_aborts_and_leaves_nothing(s3: "S3Client", bucket: str) -> None:
    upload = S3MultipartUpload(s3, bucket, "partial/object", part_size=5 * 1024 * 1024)
    upload.write(os.urandom(6 * 1024 * 1024))  # one part already sent
    upload.abort()
    assert s3.list_objects_v2(Bucket=bucket, Prefix="partial/").get("KeyCount") == 0
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []


def test_multipart_upload_content_is_exact(s3: "S3Client", bucket: str) -> None:
    data = os.urandom(11 * 1024 * 1024 + 17)
    upload = S3MultipartUpload(s3, bucket, "whole/object", part_size=5 * 1024 * 1024)
    for start in range(0, len(data), 1_000_000):
        upload.write(data[start : start + 1_000_000])
    upload.commit()
    stored = s3.get_object(Bucket=bucket, Key="whole/object")["Body"].read()
    assert hashlib.sha256(stored).digest() == hashlib.sha256(data).digest()
