"""Stream a checked source into its target from a restore's position on: write, checkpoint, pause, finish.

The position (part, item) counts items by where they are in the source, never by writes
made, so an invocation delivered twice cannot count an item twice. A checkpoint is saved
only once every item before its position is in the table.
"""

import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING

from ledger_backup.aws.write_json import TextBatchSender
from ledger_backup.errors import CorruptBackup
from ledger_backup.rate_limit import limiter_for
from ledger_backup.restore.batch_write import BATCH_SIZE, ParallelBatchWriter
from ledger_backup.restore.claim import TargetClaims
from ledger_backup.restore.journal import RestoreInProgress, RestoreJournal, RestoreProgress, RestoreResult
from ledger_backup.restore.verify import KeyChecker
from ledger_backup.sources.base import ReadMeter, Source

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

logger = logging.getLogger(__name__)


def never() -> bool:
    """The pause condition of a restore that runs to the end (the CLI's, and any without a journal)."""
    return False


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
        except CorruptBackup as exc:  # only when the backup changed after it was verified
            raise CorruptBackup(
                f"{exc}; {self.restored - initially_restored} items were already written to "
                f"{target_table!r}: restore a whole backup over them with overwrite"
            ) from exc
        if paused is not None:
            return paused
        return self._finish(time.monotonic() - started)

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
        for offset, (item, stored_line) in enumerate(part.entries(self._meter)):
            if offset < skip:
                continue
            self._checker.check(item, f"{part.location}, item {offset + 1}")
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
        self.progress = self.progress.advanced(part_index, next_offset, self.restored)
        key = journal.save(self.progress, self._invocation_id)
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
        if progress.expected_items is not None and self.restored != progress.expected_items:
            raise CorruptBackup(
                f"wrote {self.restored} items but {self._source.location} holds {progress.expected_items}: "
                "the backup changed while it was being restored"
            )
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
