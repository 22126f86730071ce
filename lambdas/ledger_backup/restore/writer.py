"""Stream a source into its target from a restore's position on: write, checkpoint, pause, finish.

The position (part, item) counts items by where they are in the source, never by writes
made, so an invocation delivered twice cannot count an item twice. A checkpoint is saved
only once every item before its position is in the table.

A source verified before (an existing target) is only re-checked for its keys. Into a table
the restore created itself (phase CHECK_AND_WRITE) the writer is the only pass: every item is
checked against DynamoDB's rules and its key counted as it is written, each part's checksum and
count when it ends; on a bad input the table is deleted, the claim given back, and the restore
refused, so the target is left as it was found: missing.
"""

import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING

from ledger_backup.aws.write_json import TextBatchSender
from ledger_backup.errors import BackupNotFound, CorruptBackup
from ledger_backup.item_rules import ItemRejected, ItemRules
from ledger_backup.rate_limit import limiter_for
from ledger_backup.restore.batch_write import BATCH_SIZE, ParallelBatchWriter
from ledger_backup.restore.claim import TargetClaims
from ledger_backup.restore.journal import (
    CHECK_AND_WRITE,
    RestoreInProgress,
    RestoreJournal,
    RestoreProgress,
    RestoreResult,
)
from ledger_backup.restore.keyset import KeyDigests
from ledger_backup.restore.target import delete_created_table
from ledger_backup.restore.verify import KeyChecker, never
from ledger_backup.sources.base import ReadMeter, Source

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

logger = logging.getLogger(__name__)


__all__ = ["RestoreWriter", "never"]


class RestoreWriter:
    """Writes one invocation's share of a restore; `run()` once, then read `restored`.

    Without a journal it writes to the end; with one it checkpoints every `checkpoint_seconds`
    (looked at once per batch) and pauses at a checkpoint as soon as `should_pause()` says so.
    """

    def __init__(
        self,
        dynamodb: "DynamoDBClient",
        source: Source,
        progress: RestoreProgress,
        *,
        writers: int,
        max_items_per_second: float | None = None,
        checkpoint_seconds: float = 60.0,
        journal: RestoreJournal | None = None,
        should_pause: Callable[[], bool] = never,
        invocation_id: str | None = None,
    ) -> None:
        self._dynamodb = dynamodb
        self._source = source
        self.progress = replace(progress, invocations=progress.invocations + 1)
        self._writers = writers
        self._max_items_per_second = max_items_per_second
        self._checkpoint_seconds = checkpoint_seconds
        self._journal = journal
        self._should_pause = should_pause
        self._invocation_id = invocation_id or uuid.uuid4().hex[:12]
        self._meter = ReadMeter()
        self._checker = KeyChecker(progress.schema)
        self._checking = progress.phase == CHECK_AND_WRITE
        self._rules = ItemRules(progress.schema) if self._checking else None
        self._keys: KeyDigests | None = None
        if self._checking:
            self._keys = KeyDigests(progress.schema, journaled=journal is not None)
            for chunk in journal.key_digests(progress) if journal is not None else ():
                self._keys.load(chunk)
        self.restored = progress.items_restored  # the source position reached, as a count of items
        self._last_checkpoint = time.monotonic()

    def run(self) -> RestoreResult | RestoreInProgress:
        """Write from the progress's position to the end of the source, or until a pause."""
        started = time.monotonic()
        initially_restored = self.restored
        target_table = self.progress.target_table
        batches = self._batch_writer()
        try:
            with batches:
                paused = self._write_parts(batches)
            if paused is None and self._checking:
                self._check_count()
        except (CorruptBackup, BackupNotFound) as exc:
            if self._checking:
                raise self._refused(exc) from exc
            if isinstance(exc, BackupNotFound):
                raise
            raise CorruptBackup(  # only when the backup changed after it was verified
                f"{exc}; {self.restored - initially_restored} items were already written to "
                f"{target_table!r}: restore a whole backup over them with overwrite"
            ) from exc
        if paused is not None:
            return paused
        self._check_count()
        return self._finish(time.monotonic() - started)

    def _refused(self, problem: Exception) -> CorruptBackup:
        """The single pass met a bad input: delete the table it created, give back the claim, explain."""
        progress = self.progress
        deleted = delete_created_table(self._dynamodb, progress.target_table)
        if self._journal is not None:
            TargetClaims.beside(self._journal).release(progress.target_table, progress.restore_id)
            try:
                self._journal.discard_checkpoints(progress.restore_id)
            except Exception:
                logger.warning("could not delete the refused restore's checkpoints", exc_info=True)
        logger.info(  # the refusal itself is the error the caller sees (and the handler logs)
            "restore refused for its input; its table is deleted",
            extra={"restore_id": progress.restore_id, "target": progress.target_table},
        )
        return CorruptBackup(f"{problem}; {deleted}")

    def _check_count(self) -> None:
        expected = self.progress.expected_items
        if expected is None or self.restored == expected:
            return
        if self._checking:
            raise CorruptBackup(
                f"{self._source.location} holds {self.restored} items but its manifest lists {expected}"
            )
        raise CorruptBackup(
            f"wrote {self.restored} items but {self._source.location} holds {expected}: "
            "the backup changed while it was being restored"
        )

    def _batch_writer(self) -> ParallelBatchWriter:
        table, key_names = self.progress.target_table, self.progress.schema.key_names
        limiter = limiter_for(self._max_items_per_second)
        send = TextBatchSender(self._dynamodb).send
        return ParallelBatchWriter(send, table, key_names, threads=self._writers, limiter=limiter)

    def _write_parts(self, batches: ParallelBatchWriter) -> RestoreInProgress | None:
        first_part, first_offset = self.progress.part_index, self.progress.item_offset
        for part_index in range(first_part, len(self._source.parts)):
            skip = first_offset if part_index == first_part else 0
            paused = self._write_part(batches, part_index, skip)
            if paused is not None:
                return paused
        return None

    def _write_part(
        self, batches: ParallelBatchWriter, part_index: int, skip: int
    ) -> RestoreInProgress | None:
        """Write part `part_index` from item `skip` on (the items before it are read, not written)."""
        part = self._source.parts[part_index]
        rules, keys = self._rules, self._keys
        for offset, (item, stored_line) in enumerate(part.entries(self._meter)):
            if offset < skip:
                continue
            if rules is None:
                self._checker.check(item, f"{part.location}, item {offset + 1}")
            else:
                try:
                    rules.check(item, len(stored_line) if stored_line is not None else None)
                except ItemRejected as rejected:
                    raise CorruptBackup(f"{part.location}, item {offset + 1}: {rejected}") from None
            if keys is not None:
                keys.add(item)
            batches.put(item, stored_line)
            self.restored += 1
            if self._journal is not None and self.restored % BATCH_SIZE == 0:
                paused = self._at_batch_end(batches, self._journal, part_index, offset + 1)
                if paused is not None:
                    return paused
        return None

    def _at_batch_end(
        self, batches: ParallelBatchWriter, journal: RestoreJournal, part_index: int, next_offset: int
    ) -> RestoreInProgress | None:
        """Once per batch: checkpoint when one is due or a pause is asked for, and pause if asked."""
        pause = self._should_pause()
        if not pause and time.monotonic() - self._last_checkpoint < self._checkpoint_seconds:
            return None
        key = self._checkpoint(batches, journal, part_index, next_offset)
        return self._pause(journal, key) if pause else None

    def _checkpoint(
        self, batches: ParallelBatchWriter, journal: RestoreJournal, part_index: int, next_offset: int
    ) -> str:
        """Wait until every item before the position is written, then record the position."""
        batches.flush()
        progress = self.progress.advanced(part_index, next_offset, self.restored)
        if self._keys is not None:
            progress = replace(progress, duplicate_keys=self._keys.duplicates)
            fresh = self._keys.take_fresh()
            if fresh:
                name = journal.save_key_digests(progress, self._invocation_id, fresh)
                progress = replace(progress, key_digests=(*progress.key_digests, name))
        self.progress = progress
        key = journal.save(progress, self._invocation_id)
        self._last_checkpoint = time.monotonic()
        return key

    def _pause(self, journal: RestoreJournal, checkpoint_key: str) -> RestoreInProgress:
        logger.info(
            "restore paused",
            extra={
                "restore_id": self.progress.restore_id,
                "items": self.progress.items_restored,
                "checkpoint": checkpoint_key,
            },
        )
        return journal.in_progress(self.progress, checkpoint_key)

    def _finish(self, seconds: float) -> RestoreResult:
        """Check the count, record the result once (a replayed twin gets the recorded one), tidy up."""
        progress = self.progress
        result = RestoreResult(
            source=self._source.location,
            kind=str(self._source.kind),
            target_table=progress.target_table,
            table_created=progress.table_created,
            items_restored=self.restored,
            files=len(self._source.parts),
            compressed_bytes=self._meter.object_bytes,
            schema_from=progress.schema_from,
            duration_seconds=round(seconds, 3),
            restore_id=progress.restore_id,
            invocations=progress.invocations,
            duplicate_keys=self._keys.duplicates if self._keys is not None else progress.duplicate_keys,
        )
        if self._journal is not None:
            result = RestoreResult.from_json(self._journal.finish(progress.restore_id, result.to_json()))
            TargetClaims.beside(self._journal).release(progress.target_table, progress.restore_id)
            try:
                self._journal.discard_checkpoints(progress.restore_id)
            except Exception:
                logger.warning("could not delete the restore's checkpoints", exc_info=True)
        logger.info(
            "restore complete", extra={"target": progress.target_table, "items": result.items_restored}
        )
        return result
