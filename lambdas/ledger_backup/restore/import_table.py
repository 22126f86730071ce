"""Restore into a new table with DynamoDB's ImportTable, after this tool's own verify.

Why: ImportTable writes a table from S3 without any write capacity or BatchWriteItem calls, so
a large backup restores in DynamoDB's time instead of the function's. The backup's data files
are already in its input format (gzipped DYNAMODB_JSON lines `{"Item": ...}`: this tool's files
and DynamoDB's full exports alike), so they are imported where they lie.

What it costs in promises, and how they are kept:
- ImportTable reads every object under one prefix: the backup's data folder must hold exactly the
  backup's files (checked by listing it), or a stray object would be imported too.
- It only creates tables, with no local secondary indexes: a target that exists, or a schema with
  LSIs, is refused before anything starts (use the default method, which creates LSIs).
- It checks nothing of ours: the whole backup is verified first (checksums, counts, every item
  against DynamoDB's rules, no duplicate keys), before the import starts.
- It runs for minutes to hours: the journal records the import's ARN and every invocation waits
  on DescribeImport until its deadline, then hands over to the next one.
- Once COMPLETED, the imported, processed and error counts must match the verified count; anything
  else fails loudly (ImportFailed). The table is then tagged as this tool's and given its TTL,
  which ImportTable's parameters cannot carry.
"""

import logging
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, cast

from ledger_backup.aws.tables import describe_table
from ledger_backup.contract import CREATED_BY_RESTORE_TAG
from ledger_backup.errors import CorruptBackup, ImportFailed, InvalidRequest, TargetNotEmpty
from ledger_backup.restore.claim import TargetClaims, claimed
from ledger_backup.restore.journal import (
    IMPORT,
    RestoreInProgress,
    RestoreJournal,
    RestoreProgress,
    RestoreResult,
)
from ledger_backup.restore.verify import verify_source
from ledger_backup.schema import TableSchema
from ledger_backup.sources.base import Source, SourceKind
from ledger_backup.storage.stores import S3Store

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import TableCreationParametersTypeDef, TagTypeDef

logger = logging.getLogger(__name__)

IMPORT_METHOD = "import"
POLL_SECONDS = (0.25, 1.0, 2.0, 5.0, 10.0, 20.0)  # DescribeImport: soon at first, then every 20 s
_DONE = "COMPLETED"
_FAILED = ("FAILED", "CANCELLING", "CANCELLED")


def check_importable(source: Source, schema: TableSchema, target_table: str, table_exists: bool) -> None:
    """Refuse what ImportTable cannot do, before anything is read or started."""
    if table_exists:
        raise TargetNotEmpty(
            f"target table {target_table!r} exists: ImportTable only creates a new table; restore into a "
            'new table name, or leave "method" out to write into this one'
        )
    if schema.local_secondary_indexes:
        names = ", ".join(index["IndexName"] for index in schema.local_secondary_indexes)
        raise InvalidRequest(
            f"the backup's table has local secondary indexes ({names}), and ImportTable cannot create "
            'LSIs (only GSIs): leave "method" out, the default method creates them'
        )
    if source.kind == SourceKind.SCAN_JSON:
        raise InvalidRequest(
            'a scan-json document is not in ImportTable\'s input format ({"Item": ...} lines): '
            'leave "method" out to restore it'
        )
    if source.incrementals:
        raise InvalidRequest(
            "ImportTable imports files as they are, so a chain of incrementals cannot be imported: "
            'leave "method" out to restore the chain'
        )


def data_prefix(store: S3Store, source: Source) -> str:
    """The folder holding the backup's data files, which must hold nothing else.

    ImportTable takes every object under its S3KeyPrefix, so a stray object (a file an interrupted
    backup left, a copy someone made) would be imported as items: refused, naming it.
    """
    prefix_of_bucket = f"s3://{store.bucket}/"
    keys = []
    for part in source.parts:
        if not part.location.startswith(prefix_of_bucket):
            raise InvalidRequest(
                f"{part.location} is not in bucket {store.bucket!r}: ImportTable reads one bucket"
            )
        keys.append(part.location.removeprefix(prefix_of_bucket))
    if not keys:
        raise InvalidRequest(f"{source.location} has no data files to import")
    folders = {key.rpartition("/")[0] + "/" for key in keys}
    if len(folders) != 1:
        raise InvalidRequest(
            f"{source.location}'s data files are in {len(folders)} folders; ImportTable reads one prefix"
        )
    (folder,) = folders
    stray = sorted(set(store.list_keys(folder)) - set(keys))
    if stray:
        shown = ", ".join(store.location(key) for key in stray[:3])
        raise CorruptBackup(
            f"{store.location(folder)} holds {len(stray)} objects that are not the backup's files "
            f'({shown}), and ImportTable would import them as items: move them away, or leave "method" out'
        )
    return folder


def start_import(
    dynamodb: "DynamoDBClient",
    store: S3Store,
    source: Source,
    progress: RestoreProgress,
    *,
    journal: RestoreJournal,
    invocation_id: str,
    should_pause: Callable[[], bool],
    sleep: Callable[[float], None] = time.sleep,
) -> RestoreResult | RestoreInProgress:
    """Verify the backup, start ImportTable, then wait for it (`wait_for_import`)."""
    schema, target_table = progress.schema, progress.target_table
    check_importable(source, schema, target_table, describe_table(dynamodb, target_table) is not None)
    prefix = data_prefix(store, source)
    with claimed(journal, target_table, progress.restore_id, source.location):
        report = verify_source(source, schema)
        if not report.ok:
            raise CorruptBackup(report.failure())
        if report.duplicate_keys:
            raise InvalidRequest(
                f"{source.location} holds {report.duplicate_keys} items whose key an earlier item had; "
                'ImportTable would not say which copy it kept: leave "method" out (the later copy wins)'
            )
        response = dynamodb.import_table(
            ClientToken=progress.restore_id,  # a retried call starts no second import
            S3BucketSource={"S3Bucket": store.bucket, "S3KeyPrefix": prefix},
            InputFormat="DYNAMODB_JSON",
            InputCompressionType="GZIP",
            TableCreationParameters=_creation_parameters(schema, target_table),
        )
    import_arn = response["ImportTableDescription"]["ImportArn"]
    progress = replace(
        progress,
        phase=IMPORT,
        import_arn=import_arn,
        table_created=True,
        expected_items=report.item_count,
        verified_items=report.item_count,
        source_kind=str(source.kind),
        import_files=len(source.parts),
        bytes_read=report.object_bytes,
    )
    journal.save(progress, invocation_id)
    logger.info(
        "import started",
        extra={"restore_id": progress.restore_id, "import_arn": import_arn, "items": report.item_count},
    )
    return wait_for_import(
        dynamodb,
        progress,
        journal=journal,
        invocation_id=invocation_id,
        should_pause=should_pause,
        sleep=sleep,
    )


def _creation_parameters(schema: TableSchema, target_table: str) -> "TableCreationParametersTypeDef":
    """CreateTable's parameters as ImportTable takes them: keys, attributes, on-demand, GSIs."""
    request = schema.create_table_request(target_table)
    request.pop("LocalSecondaryIndexes", None)  # refused before (check_importable)
    return cast("TableCreationParametersTypeDef", request)


def wait_for_import(
    dynamodb: "DynamoDBClient",
    progress: RestoreProgress,
    *,
    journal: RestoreJournal,
    invocation_id: str,
    should_pause: Callable[[], bool],
    sleep: Callable[[float], None] = time.sleep,
) -> RestoreResult | RestoreInProgress:
    """Poll DescribeImport until the import ends or this invocation's time is up (then checkpoint).

    A failed import gives the target back (nothing is left to resume) and raises ImportFailed.
    """
    try:
        return _wait(
            dynamodb,
            progress,
            journal=journal,
            invocation_id=invocation_id,
            should_pause=should_pause,
            sleep=sleep,
        )
    except ImportFailed:
        TargetClaims.beside(journal).release(progress.target_table, progress.restore_id)
        raise


def _wait(
    dynamodb: "DynamoDBClient",
    progress: RestoreProgress,
    *,
    journal: RestoreJournal,
    invocation_id: str,
    should_pause: Callable[[], bool],
    sleep: Callable[[float], None],
) -> RestoreResult | RestoreInProgress:
    began = time.monotonic()
    for attempt in range(1_000_000):
        description = dynamodb.describe_import(ImportArn=progress.import_arn)["ImportTableDescription"]
        status = description.get("ImportStatus", "")
        if status == _DONE:
            return _finish(dynamodb, progress, dict(description), journal, time.monotonic() - began)
        if status in _FAILED:
            raise ImportFailed(
                f"import {progress.import_arn} into {progress.target_table!r} ended {status}: "
                f"{description.get('FailureCode', '')} {description.get('FailureMessage', '')}".rstrip()
                + "; see its CloudWatch log (/aws-dynamodb/imports); the backup itself was verified, so "
                'restore again, into a new table name or without "method"'
            )
        if should_pause():
            progress = replace(progress, invocations=progress.invocations + 1)
            key = journal.save(progress, invocation_id)
            logger.info("import still running", extra={"restore_id": progress.restore_id, "status": status})
            return journal.in_progress(progress, key)
        sleep(POLL_SECONDS[min(attempt, len(POLL_SECONDS) - 1)])
    raise ImportFailed(f"import {progress.import_arn} never ended")  # pragma: no cover - a million polls


def _finish(
    dynamodb: "DynamoDBClient",
    progress: RestoreProgress,
    description: dict[str, Any],
    journal: RestoreJournal,
    seconds: float,
) -> RestoreResult:
    """The import's counts checked against the verified backup; the table tagged, its TTL set; the result."""
    expected = progress.verified_items
    counts = {
        "ImportedItemCount": description.get("ImportedItemCount", 0),
        "ProcessedItemCount": description.get("ProcessedItemCount", 0),
        "ErrorCount": description.get("ErrorCount", 0),
    }
    if counts != {"ImportedItemCount": expected, "ProcessedItemCount": expected, "ErrorCount": 0}:
        raise ImportFailed(
            f"import {progress.import_arn} into {progress.target_table!r} completed with "
            + ", ".join(f"{name} {value}" for name, value in counts.items())
            + f", but the verified backup holds {expected} items: the table does not equal the backup. "
            'It is left for inspection; delete it and restore again without "method"'
        )
    table = describe_table(dynamodb, progress.target_table)
    if table is not None:
        tag: TagTypeDef = {"Key": CREATED_BY_RESTORE_TAG["Key"], "Value": CREATED_BY_RESTORE_TAG["Value"]}
        dynamodb.tag_resource(ResourceArn=table["TableArn"], Tags=[tag])
    if progress.schema.ttl_attribute:
        dynamodb.update_time_to_live(
            TableName=progress.target_table,
            TimeToLiveSpecification={"Enabled": True, "AttributeName": progress.schema.ttl_attribute},
        )
    started = datetime.fromisoformat(progress.started_at)
    result = RestoreResult(
        source=progress.source_location,
        kind=progress.source_kind,
        target_table=progress.target_table,
        table_created=True,
        items_restored=expected,
        files=progress.import_files,
        compressed_bytes=progress.bytes_read,
        schema_from=progress.schema_from,
        duration_seconds=round(max(seconds, (datetime.now(UTC) - started).total_seconds()), 3),
        restore_id=progress.restore_id,
        invocations=progress.invocations + 1,
        method=IMPORT_METHOD,
    )
    result = RestoreResult.from_json(journal.finish(progress.restore_id, result.to_json()))
    TargetClaims.beside(journal).release(progress.target_table, progress.restore_id)
    try:
        journal.discard_checkpoints(progress.restore_id)
    except Exception:
        logger.warning("could not delete the restore's checkpoints", exc_info=True)
    logger.info("import complete", extra={"target": progress.target_table, "items": expected})
    return result
