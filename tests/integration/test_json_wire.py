"""The JSON fast paths against DynamoDB Local: item texts from Scan, write requests as text.

The backup copies each item's text out of the Scan response and the restore sends stored
lines as write requests, so both must carry exactly what botocore's own paths would.
"""

import gzip
import json
from dataclasses import fields
from typing import TYPE_CHECKING, Any

import pytest

from devtools.edge_items import edge_items
from devtools.tables import create_table, load_items, scan_all
from ledger_backup.aws.clients import dynamodb_client
from ledger_backup.aws.scan_texts import ItemTextPage, TextScanner
from ledger_backup.aws.write_json import TextBatchSender
from ledger_backup.backup.run import BackupOptions, run_backup
from ledger_backup.codec import decode_line, encode_put_request, loads_items_json
from ledger_backup.storage.stores import S3Store

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_s3 import S3Client

pytestmark = pytest.mark.integration


def _scan_pages(client: Any, table: str, page_size: int) -> list[dict[str, Any]]:
    paginator = client.get_paginator("scan")
    return list(
        paginator.paginate(TableName=table, ConsistentRead=True, PaginationConfig={"PageSize": page_size})
    )


def test_scanned_item_texts_are_the_items_botocore_returns(
    dynamodb: "DynamoDBClient", edge_table: str
) -> None:
    ours = dynamodb_client()
    text_pages: list[ItemTextPage] = list(
        TextScanner(ours).pages(TableName=edge_table, ConsistentRead=True, Limit=3)
    )
    plain_pages = _scan_pages(dynamodb, edge_table, 3)

    # paginated by LastEvaluatedKey, which botocore still parses
    assert len(text_pages) == len(plain_pages) > 2
    assert [f.name for f in fields(ItemTextPage)] == ["texts", "last_evaluated_key"]  # no decoded Items
    for text_page, plain_page in zip(text_pages, plain_pages, strict=True):
        assert [loads_items_json(text) for text in text_page.texts] == plain_page["Items"]
        assert len(text_page.texts) == plain_page["Count"]
        assert text_page.last_evaluated_key == plain_page.get("LastEvaluatedKey")
    # The client the scanner was made from still parses items the usual way.
    assert (
        _scan_pages(ours, edge_table, 100)[0]["Items"] == _scan_pages(dynamodb, edge_table, 100)[0]["Items"]
    )


def test_backup_lines_are_the_same_items_with_or_without_the_text_path(
    dynamodb: "DynamoDBClient", s3: "S3Client", bucket: str, edge_table: str
) -> None:
    """A plain boto3 client gives the backup the same lines as ours: the text scanner is made from either."""
    store = S3Store(s3, bucket)

    def backed_up_items(client: Any, prefix: str) -> list[dict[str, Any]]:
        result = run_backup(client, store, edge_table, prefix=prefix, options=BackupOptions(total_segments=2))
        folder = result.manifest_key.rsplit("/", 1)[0] + "/data/"
        lines: list[dict[str, Any]] = []
        for entry in s3.list_objects_v2(Bucket=bucket, Prefix=folder)["Contents"]:
            body = gzip.decompress(s3.get_object(Bucket=bucket, Key=entry["Key"])["Body"].read())
            lines += [decode_line(line) for line in body.splitlines()]
        return sorted(lines, key=lambda item: (item["pk"]["S"], item["sk"]["N"]))

    as_text = backed_up_items(dynamodb_client(), "text/")
    as_values = backed_up_items(dynamodb, "values/")
    assert as_text == as_values
    stock = [item for page in _scan_pages(dynamodb, edge_table, 100) for item in page["Items"]]
    assert as_values == sorted(stock, key=lambda item: (item["pk"]["S"], item["sk"]["N"]))
    assert len(as_text) == len(edge_items())


def test_write_requests_sent_as_text_store_what_botocore_would(
    dynamodb: "DynamoDBClient", unique_name: str
) -> None:
    """Any client will do: TextBatchSender installs its handlers on a plain boto3 client too."""
    as_text, by_botocore = f"wire-{unique_name}", f"wire-{unique_name}-botocore"
    for table in (as_text, by_botocore):
        create_table(dynamodb, table, hash_key="pk")
    items = edge_items()
    send = TextBatchSender(dynamodb).send
    for start in range(0, len(items), 25):
        requests = [encode_put_request(item) for item in items[start : start + 25]]
        assert send(as_text, requests).get("UnprocessedItems") == {}
    load_items(dynamodb, by_botocore, items)  # the client's own serializer, untouched by the handlers
    stored = scan_all(dynamodb, as_text)
    assert stored == scan_all(dynamodb, by_botocore)
    assert len(stored) == len(items)


def test_a_refused_text_request_fails_like_any_other_call(
    dynamodb: "DynamoDBClient", unique_name: str
) -> None:
    table = f"wire-{unique_name}"
    create_table(dynamodb, table, hash_key="pk")
    twice = encode_put_request({"pk": {"S": "same"}})
    send = TextBatchSender(dynamodb).send
    with pytest.raises(dynamodb.exceptions.ClientError, match="duplicates"):
        send(table, [twice, twice])
    send(table, [json.dumps({"PutRequest": {"Item": {"pk": {"S": "after"}}}}).encode()])
    assert set(scan_all(dynamodb, table)) == {"after"}
