"""Method "import": the function verifies a backup, then ImportTable creates and fills the new table.

DynamoDB Local has no ImportTable, so these tests point the function's DynamoDB at the session's moto
server, whose ImportTable reads S3 from the same process (moto/dynamodb/models/table_import.py: it
lists every object under S3KeyPrefix, gunzips each and puts its `{"Item": ...}` lines; it writes no
CloudWatch log and checks no IAM). The refusals that come before any import run against DynamoDB Local.
"""

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import boto3
import pytest

import backup_handler
import restore_handler
from devtools.lambda_context import FakeLambdaContext
from devtools.legacy_formats import write_aws_export
from devtools.local_aws import LocalAws
from devtools.sample_events import scheduled_event
from devtools.tables import create_table, load_items, scan_all
from ledger_backup.aws.tables import describe_table
from ledger_backup.errors import CorruptBackup, InvalidRequest, TargetNotEmpty
from ledger_backup.storage.stores import S3Store
from tests.chain_story import FULL_ITEMS, write_chain

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_s3 import S3Client

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("drop_own_tables")]

BOOK_ID = [{"AttributeName": "book_id", "KeyType": "HASH", "AttributeType": "S"}]


@pytest.fixture
def moto_dynamodb(local_services: LocalAws, monkeypatch: pytest.MonkeyPatch) -> "DynamoDBClient":
    """The function's DynamoDB is moto's, in the process that serves the bucket (ImportTable reads it)."""
    monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", local_services.s3_endpoint)
    return boto3.client("dynamodb", endpoint_url=local_services.s3_endpoint)


@pytest.fixture
def ledger(unique_name: str, function_env: Callable[[str], None]) -> str:
    name = f"ledger-{unique_name}"
    function_env(name)
    return name


def by_id(items: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {item["book_id"]["S"]: item for item in items}


def test_an_export_is_imported_into_a_new_table_and_its_count_checked(
    moto_dynamodb: "DynamoDBClient", s3: "S3Client", bucket: str, ledger: str, context: Any
) -> None:
    key = write_aws_export(S3Store(s3, bucket), FULL_ITEMS, prefix="backups/exports/")
    target = f"{ledger}-imported"
    event = {"s3_key": key, "target_table": target, "key_schema": BOOK_ID, "method": "import"}
    result = restore_handler.handler(event, context)
    assert (result["status"], result["method"], result["items_restored"]) == ("complete", "import", 60)
    assert (result["table_created"], result["files"]) == (True, 3)
    assert scan_all(moto_dynamodb, target, "book_id") == by_id(FULL_ITEMS)
    tags = moto_dynamodb.list_tags_of_resource(
        ResourceArn=moto_dynamodb.describe_table(TableName=target)["Table"]["TableArn"]
    )["Tags"]
    assert {"Key": "ledger-backup:created-by", "Value": "restore"} in tags
    status = restore_handler.handler({"restore_status": result["restore_id"]}, context)
    assert status == result  # recorded once, in the journal


def test_this_tools_own_backup_is_imported(
    dynamodb: "DynamoDBClient",
    unique_name: str,
    function_env: Callable[[str], None],
    local_services: LocalAws,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ledger_table = f"ledger-{unique_name}"
    create_table(dynamodb, ledger_table, hash_key="book_id")
    load_items(dynamodb, ledger_table, FULL_ITEMS)
    function_env(ledger_table)
    backup = backup_handler.handler(scheduled_event(), FakeLambdaContext())
    expected = scan_all(dynamodb, ledger_table, "book_id")
    monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", local_services.s3_endpoint)  # from here on, moto's
    target = f"{ledger_table}-imported"
    result = restore_handler.handler(
        {"s3_key": backup["s3_key"], "target_table": target, "method": "import"}, FakeLambdaContext()
    )
    assert (result["items_restored"], result["schema_from"]) == (len(expected), "backup")
    moto = boto3.client("dynamodb", endpoint_url=local_services.s3_endpoint)
    assert scan_all(moto, target, "book_id") == expected


def test_a_stray_object_in_the_data_folder_is_refused_before_the_import(
    moto_dynamodb: "DynamoDBClient", s3: "S3Client", bucket: str, ledger: str, context: Any
) -> None:
    store = S3Store(s3, bucket)
    key = write_aws_export(store, FULL_ITEMS, prefix="backups/exports/")
    stray = key.replace("manifest-summary.json", "data/copy-of-a-file.json.gz")
    store.put(stray, b"")
    target = f"{ledger}-stray"
    event = {"s3_key": key, "target_table": target, "key_schema": BOOK_ID, "method": "import"}
    with pytest.raises(
        CorruptBackup, match=r"holds 1 objects that are not the backup's files .*copy-of-a-file"
    ):
        restore_handler.handler(event, context)
    assert describe_table(moto_dynamodb, target) is None  # no import started: it would have created it


def test_what_importtable_cannot_do_is_refused_saying_why(
    dynamodb: "DynamoDBClient",
    s3: "S3Client",
    bucket: str,
    edge_table: str,
    function_env: Callable[[str], None],
    context: Any,
) -> None:
    function_env(edge_table)
    backup = backup_handler.handler(scheduled_event(), FakeLambdaContext())
    with pytest.raises(
        InvalidRequest, match=r"local secondary indexes \(by-rank\), and ImportTable cannot create"
    ):
        restore_handler.handler(
            {"s3_key": backup["s3_key"], "target_table": f"{edge_table}-i", "method": "import"}, context
        )
    with pytest.raises(TargetNotEmpty, match="ImportTable only creates a new table"):
        restore_handler.handler(
            {"s3_key": backup["s3_key"], "target_table": edge_table, "method": "import"}, context
        )
    chain = write_chain(S3Store(s3, bucket), "backups/exports/")
    event = {"s3_key": chain.full, "incrementals": chain.incrementals, "target_table": f"{edge_table}-c"}
    with pytest.raises(InvalidRequest, match='method "import" restores a whole backup into a new table'):
        restore_handler.handler({**event, "method": "import"}, context)
    assert [describe_table(dynamodb, f"{edge_table}-{end}") for end in "ic"] == [None, None]
