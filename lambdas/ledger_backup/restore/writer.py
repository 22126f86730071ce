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
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from ledger_backup.aws.tables import parallel_table_items, table_items_by_key
from ledger_backup.aws.write_json import TextBatchSender
from ledger_backup.codec import Item
from ledger_backup.errors import BackupNotFound, CorruptBackup
from ledger_backup.item_rules import ItemRejected, ItemRules
from ledger_backup.rate_limit import limiter_for
from ledger_backup.reporting import DELETING, REPORT_EVERY, WRITING, ProgressListener
from ledger_backup.restore.batch_write import BATCH_SIZE, ParallelBatchWriter
from ledger_backup.restore.claim import TargetClaims
from ledger_backup.restore.conditional_put import ConditionalPutWriter
from ledger_backup.restore.journal import (
    CHECK_AND_WRITE,
    RestoreInProgress,
    RestoreJournal,
    RestoreProgress,
    RestoreResult,
)
from ledger_backup.restore.keyset import KeyDigests
from ledger_backup.restore.modes import MISSING, REPLACE
from ledger_backup.restore.selection import KeySelection
from ledger_backup.restore.target import delete_created_table
from ledger_backup.restore.verify import KeyChecker, never
from ledger_backup.sources.base import ItemLines, ReadMeter, Source

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

logger = logging.getLogger(__name__)


__all__ = ["RestoreWriter", "never"]


class RestoreWriter:
    """Writes one invocation's share of a restore; `run()` once, then read `restored`.

    Without a journal it writes to the end; with one it checkpoints every `checkpoint_seconds`
    (looked at once per batch) and pauses at a checkpoint as soon as `should_pause()` says so.
    `on_progress` hears of the source's items as they are handled (checked, and queued for writing
    when chosen), a thousand at a time, counted against the source's own count.
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
        selection: KeySelection | None = None,
        on_progress: ProgressListener | None = None,
        extra_keys: Sequence[Item] | None = None,
    ) -> None:
        """`extra_keys`: replace mode, the table's keys the backup lacks, known before the writes
        (restore/extra_keys.py); without them, the keys are found by a Scan after the puts."""
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
        self._bytes_before = progress.bytes_read
        self._checker = KeyChecker(progress.schema)
        self._checking = progress.phase == CHECK_AND_WRITE
        self._rules = ItemRules(progress.schema) if self._checking else None
        self._mode = progress.mode
        self._selection = selection
        self._on_progress = on_progress
        written = progress.items_written
        self.written = progress.items_restored if written < 0 else written  # puts DynamoDB took
        self.skipped = progress.items_skipped
        self.deleted = 0
        self._extra_keys = extra_keys
        self._keys: KeyDigests | None = None
        # The backup's keys: to count duplicates (single pass), to know what replace deletes (unless
        # known already), and which chosen keys the backup lacks.
        if self._checking or (self._mode == REPLACE and extra_keys is None) or selection is not None:
            self._keys = KeyDigests(progress.schema, journaled=journal is not None)
            for chunk in journal.key_digests(progress) if journal is not None else ():
                self._keys.load(chunk)
        self.restored = progress.items_restored  # the source position reached, as a count of items
        # A source verified to hold each key once, each line a PutRequest: its lines go out unparsed.
        self._sends_lines = (
            not self._checking
            and self._keys is None
            and self._mode != MISSING
            and progress.lines_are_requests
            and progress.duplicate_keys == 0
        )
        self._reported = 0  # the count `on_progress` was last told of
        self._last_checkpoint = time.monotonic()

    def run(self) -> RestoreResult | RestoreInProgress:
        """Write from the progress's position to the end of the source, or until a pause."""
        started = time.monotonic()
        initially_restored = self.restored
        target_table = self.progress.target_table
        if self._on_progress is not None:
            self._on_progress.begin(WRITING, self.progress.expected_items)
        self._tell_progress(self.restored)  # what earlier invocations wrote
        batches = self._batch_writer()
        try:
            with batches:
                paused = self._write_parts(batches)
            self._count_conditional_puts(batches)
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
        if self._mode == REPLACE and self._extra_keys is not None:
            self._delete_keys(self._extra_keys, len(self._extra_keys))
        elif self._mode == REPLACE and self._keys is not None and not self.progress.table_created:
            self._delete_extra_keys(self._keys)
        return self._finish(self._run_seconds(time.monotonic() - started))

    def _tell_progress(self, count: int) -> None:
        """Tell `on_progress` of the items handled since it was last told."""
        if self._on_progress is not None and count > self._reported:
            self._on_progress.advance(count - self._reported)
        self._reported = count

    def _run_seconds(self, this_invocation: float) -> float:
        """The whole restore's time when it ran over several invocations, else this write pass's."""
        if self.progress.invocations <= 1:
            return this_invocation
        try:
            began = datetime.fromisoformat(self.progress.started_at)
        except ValueError:  # a hand-edited checkpoint: this invocation's own time is all there is
            return this_invocation
        return max(this_invocation, (datetime.now(UTC) - began).total_seconds())

    def _delete_extra_keys(self, keys: KeyDigests) -> None:
        """Replace mode, after every put: delete the table's keys that the backup (`keys`) lacks, of the
        chosen keys only when there are some. Deletes are idempotent: a resumed restore does this again."""
        names = self.progress.schema.key_names
        table = self.progress.target_table
        found: Iterator[Item]
        if self._selection is None:
            found = parallel_table_items(self._dynamodb, table, key_names=names)
        else:
            chosen = [key for key in self._selection.keys if key not in keys]
            found = table_items_by_key(self._dynamodb, table, chosen, key_names=names)
        extra = (
            key for key in found if key not in keys and (self._selection is None or key in self._selection)
        )
        self._delete_keys(extra, None)

    def _delete_keys(self, keys: Iterable[Item], total: int | None) -> None:
        """Replace mode, after every put: delete `keys` (`total` of them, when known). Deletes are
        idempotent: a resumed restore does this again."""
        if self._on_progress is not None:
            self._on_progress.begin(DELETING, total)
        self._reported = 0
        with self._plain_batch_writer() as deletes:
            for key in keys:
                deletes.delete(key)
                self.deleted += 1
                if self.deleted % REPORT_EVERY == 0:
                    self._tell_progress(self.deleted)
        self._tell_progress(self.deleted)
        logger.info(
            "extra keys deleted", extra={"target": self.progress.target_table, "items_deleted": self.deleted}
        )

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

    def _batch_writer(self) -> ParallelBatchWriter | ConditionalPutWriter:
        if self._mode == MISSING:
            return ConditionalPutWriter(
                self._dynamodb,
                self.progress.target_table,
                self.progress.schema.key_names[0],
                threads=self._writers,
                limiter=limiter_for(self._max_items_per_second),
            )
        return self._plain_batch_writer()

    def _plain_batch_writer(self) -> ParallelBatchWriter:
        table, key_names = self.progress.target_table, self.progress.schema.key_names
        limiter = limiter_for(self._max_items_per_second)
        send = TextBatchSender(self._dynamodb).send
        return ParallelBatchWriter(send, table, key_names, threads=self._writers, limiter=limiter)

    def _write_parts(self, batches: "ParallelBatchWriter | ConditionalPutWriter") -> RestoreInProgress | None:
        first_part, first_offset = self.progress.part_index, self.progress.item_offset
        for part_index in range(first_part, len(self._source.parts)):
            skip = first_offset if part_index == first_part else 0
            part = self._source.parts[part_index]
            if self._sends_lines and isinstance(part, ItemLines) and isinstance(batches, ParallelBatchWriter):
                paused = self._write_lines(batches, part_index, part, skip)
            else:
                paused = self._write_part(batches, part_index, skip)
            if paused is not None:
                return paused
        return None

    def _write_part(
        self, batches: "ParallelBatchWriter | ConditionalPutWriter", part_index: int, skip: int
    ) -> RestoreInProgress | None:
        """Write part `part_index` from item `skip` on (the items before it are read, not written)."""
        part = self._source.parts[part_index]
        rules, keys, selection = self._rules, self._keys, self._selection
        counts_puts = self._mode != MISSING  # conditional puts are counted once answered
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
            if selection is None or item in selection:
                batches.put(item, stored_line)
                self.written += counts_puts
            paused = self._item_done(batches, part_index, offset + 1)
            if paused is not None:
                return paused
        self._tell_progress(self.restored)
        return None

    def _write_lines(
        self, batches: ParallelBatchWriter, part_index: int, part: ItemLines, skip: int
    ) -> RestoreInProgress | None:
        """`_write_part` for a source the verify pass proved (see `_sends_lines`): each line is sent
        as the PutRequest it is, unparsed; the part's checksum and count are still checked at its end."""
        put = batches.put_unique
        for offset, line in enumerate(part.item_lines(self._meter)):
            if offset < skip:
                continue
            put(line)
            self.written += 1
            paused = self._item_done(batches, part_index, offset + 1)
            if paused is not None:
                return paused
        self._tell_progress(self.restored)
        return None

    def _item_done(
        self, batches: "ParallelBatchWriter | ConditionalPutWriter", part_index: int, next_offset: int
    ) -> RestoreInProgress | None:
        """Count one source item handled; report progress, and at a batch's end checkpoint or pause."""
        self.restored += 1
        if self.restored % REPORT_EVERY == 0:
            self._tell_progress(self.restored)
        if self._journal is not None and self.restored % BATCH_SIZE == 0:
            return self._at_batch_end(batches, self._journal, part_index, next_offset)
        return None

    def _at_batch_end(
        self,
        batches: "ParallelBatchWriter | ConditionalPutWriter",
        journal: RestoreJournal,
        part_index: int,
        next_offset: int,
    ) -> RestoreInProgress | None:
        """Once per batch: checkpoint when one is due or a pause is asked for, and pause if asked."""
        pause = self._should_pause()
        if not pause and time.monotonic() - self._last_checkpoint < self._checkpoint_seconds:
            return None
        key = self._checkpoint(batches, journal, part_index, next_offset)
        return self._pause(journal, key) if pause else None

    def _checkpoint(
        self,
        batches: "ParallelBatchWriter | ConditionalPutWriter",
        journal: RestoreJournal,
        part_index: int,
        next_offset: int,
    ) -> str:
        """Wait until every item before the position is written, then record the position."""
        batches.flush()
        self._count_conditional_puts(batches)
        progress = replace(
            self.progress.advanced(part_index, next_offset, self.restored),
            items_written=self.written,
            items_skipped=self.skipped,
            bytes_read=self._bytes_before + self._meter.object_bytes,
        )
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

    def _keys_not_in_backup(self) -> int:
        if self._selection is None or self._keys is None:
            return 0
        keys = self._keys
        return sum(1 for key in self._selection.keys if key not in keys)

    def _count_conditional_puts(self, batches: "ParallelBatchWriter | ConditionalPutWriter") -> None:
        """Mode missing: add the puts answered since the last count (the writer's counters restart)."""
        if isinstance(batches, ConditionalPutWriter):
            self.written += batches.items_written
            self.skipped += batches.items_skipped
            batches.items_written = batches.items_skipped = 0

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
            items_restored=self.written,
            files=len(self._source.parts),
            compressed_bytes=self._bytes_before + self._meter.object_bytes,
            schema_from=progress.schema_from,
            duration_seconds=round(seconds, 3),
            restore_id=progress.restore_id,
            invocations=progress.invocations,
            duplicate_keys=self._keys.duplicates if self._keys is not None else progress.duplicate_keys,
            mode=self._mode,
            items_skipped=self.skipped,
            items_deleted=self.deleted,
            keys_not_in_backup=self._keys_not_in_backup(),
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
