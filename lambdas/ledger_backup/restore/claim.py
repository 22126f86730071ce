"""One restore per target table: a claim object, created atomically before the first write.

`<prefix>restores/claims/<target table>.json` is created with the store's conditional create
(S3: PutObject with If-None-Match "*", which fails with 412 when the key exists, or 409 for a
concurrent create of the same key, see
https://docs.aws.amazon.com/AmazonS3/latest/userguide/conditional-writes.html; locally
`os.link`), so of two restores into one table at the same moment exactly one holds it and the
other is refused before it writes, instead of both blending their backups into the table.

A restore gives its claim back when it finishes or is refused before writing. One cut short
mid-write (by AWS, or its invocation died) keeps it: nothing else writes into the half-restored
table until `resume` finishes that restore, or someone gives it up by deleting the object.
"""

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime

from ledger_backup import layout
from ledger_backup.contract import RESTORES_FOLDER
from ledger_backup.errors import BackupNotFound, TargetBusy
from ledger_backup.restore.journal import RestoreJournal, RestoreProgress, RestoreResult
from ledger_backup.storage.stores import BackupStore

__all__ = ["CLAIMS_FOLDER", "Claim", "TargetClaims", "claimed", "take_over_target"]

logger = logging.getLogger(__name__)

CLAIMS_FOLDER = "claims/"  # restore ids never look like this (journal.new_restore_id)
_ATTEMPTS = 3  # a claim released between our create and our read is tried again, a few times


@dataclass(frozen=True)
class Claim:
    """Who holds a target: enough for the refused restore's message to say what to do."""

    restore_id: str
    target_table: str
    source: str
    started_at: str

    def to_bytes(self) -> bytes:
        return json.dumps(asdict(self), indent=2).encode("utf-8")

    @classmethod
    def from_bytes(cls, raw: bytes) -> "Claim":
        document = json.loads(raw)
        return cls(
            restore_id=str(document["restore_id"]),
            target_table=str(document["target_table"]),
            source=str(document["source"]),
            started_at=str(document["started_at"]),
        )


class TargetClaims:
    """The claims of one store's restores, beside their journal."""

    def __init__(self, store: BackupStore, prefix: str) -> None:
        self.store = store
        self.folder = f"{layout.normalize_prefix(prefix)}{RESTORES_FOLDER}{CLAIMS_FOLDER}"
        self._journal = RestoreJournal(store, prefix)  # what the holder left, for the refusal to explain

    @classmethod
    def beside(cls, journal: RestoreJournal) -> "TargetClaims":
        """The claims kept next to `journal`'s restores (same store, same prefix)."""
        return cls(journal.store, journal.folder.removesuffix(RESTORES_FOLDER))

    def key(self, target_table: str) -> str:
        return f"{self.folder}{target_table}.json"

    def claim(self, target_table: str, restore_id: str, source: str) -> None:
        """Hold `target_table` for `restore_id`; TargetBusy, naming the holder, when another restore does."""
        claim = Claim(restore_id, target_table, source, datetime.now(UTC).isoformat())
        for _ in range(_ATTEMPTS):
            try:
                self.store.put_new(self.key(target_table), claim.to_bytes())
                return
            except FileExistsError:
                holder = self.holder(target_table)
            if holder is not None:
                if holder.restore_id == restore_id:
                    return
                raise TargetBusy(self._busy(holder))
        raise TargetBusy(
            f"target table {target_table!r} was claimed and given back {_ATTEMPTS} times while restore "
            f"{restore_id} tried to claim it: other restores are starting into it; try again later"
        )

    def holder(self, target_table: str) -> Claim | None:
        """The claim on `target_table`, or None when no restore holds it."""
        key = self.key(target_table)
        try:
            raw = self.store.get(key)
        except BackupNotFound:
            return None
        try:
            return Claim.from_bytes(raw)
        except (ValueError, KeyError, TypeError) as exc:
            raise TargetBusy(
                f"target table {target_table!r} is claimed by an unreadable claim ({exc}): if no restore "
                f"into it is running, delete {self.store.location(key)} and try again"
            ) from exc

    def take_over(self, target_table: str, restore_id: str, source: str) -> None:
        """For a resumed or continued restore: the claim must be its own, or absent (then it claims again).

        A claim of another restore refuses the resume: that restore writes into the table now.
        """
        holder = self.holder(target_table)
        if holder is None:
            logger.warning(
                "the restore's claim on its target was gone: claiming it again",
                extra={"restore_id": restore_id, "target": target_table},
            )
            self.claim(target_table, restore_id, source)
        elif holder.restore_id != restore_id:
            raise TargetBusy(f"restore {restore_id} cannot carry on: {self._busy(holder)}")

    def release(self, target_table: str, restore_id: str) -> None:
        """Give the claim back if it is `restore_id`'s; never fails the restore.

        A claim left behind explains itself: the next restore's refusal names the object to delete.
        """
        try:
            holder = self.holder(target_table)
            if holder is not None and holder.restore_id == restore_id:
                self.store.delete([self.key(target_table)])
        except Exception:
            logger.warning(
                "could not give back the restore's claim on its target",
                extra={"claim": self.store.location(self.key(target_table)), "restore_id": restore_id},
                exc_info=True,
            )

    def _busy(self, holder: Claim) -> str:
        """Who holds the target and what to do, by what the holder left in its journal."""
        rid, location = holder.restore_id, self.store.location(self.key(holder.target_table))
        held = (
            f"target table {holder.target_table!r} is held by restore {rid} "
            f"(started {holder.started_at} from {holder.source})"
        )
        left = self._left_by(rid)
        if left == "result":
            return f"{held}, which finished but did not give its claim back: delete {location}"
        if left == "nothing":
            return (
                f"{held}, which has saved no checkpoint yet: it is still checking its backup, or it died "
                f"before writing anything it could resume from; if it is not running, give it up by "
                f"deleting {location}"
            )
        return (
            f'{held}: if it is still running, wait for it and read {{"restore_status": "{rid}"}} '
            f'(CLI: restore-status {rid}); if its invocation died, finish it with {{"resume": "{rid}"}} '
            f"(CLI: resume {rid}), or give it up by deleting {location}"
        )

    def _left_by(self, restore_id: str) -> str:
        """What the holder left in its journal: "result" (it finished), "checkpoint" or "nothing"."""
        try:
            if self._journal.result(restore_id) is not None:
                return "result"
            self._journal.latest_checkpoint(restore_id)
        except BackupNotFound:  # no checkpoint, or a hand-written claim naming no valid restore id
            return "nothing"
        return "checkpoint"


@contextmanager
def claimed(
    journal: RestoreJournal | None, target_table: str, restore_id: str, source: str
) -> Iterator[None]:
    """Claim the target for a new restore; give the claim back if the block (its checks) raises.

    The block is what comes before the first write, so a restore refused for its input leaves
    no claim behind; after it the claim stays held until the writer finishes. Without a journal
    there is no place to keep a claim (a CLI restore without --journal) and nothing is claimed.
    """
    if journal is None:
        yield
        return
    claims = TargetClaims.beside(journal)
    claims.claim(target_table, restore_id, source)
    try:
        yield
    except Exception:
        claims.release(target_table, restore_id)
        raise


def take_over_target(journal: RestoreJournal, progress: RestoreProgress) -> RestoreResult | None:
    """Before a resumed restore writes: None once it holds its target, or the result a twin recorded.

    The result is looked for first, so a replayed invocation arriving after its restore finished
    (and gave its claim back) answers that result instead of claiming and writing again.
    """
    recorded = journal.result(progress.restore_id)
    if recorded is not None:
        return RestoreResult.from_json(recorded)
    TargetClaims.beside(journal).take_over(
        progress.target_table, progress.restore_id, progress.source_location
    )
    return None
