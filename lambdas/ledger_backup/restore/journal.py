"""A restore's progress, kept beside the backups so it survives the invocation that made it.

Layout: `<prefix>restores/<restore id>/checkpoint-<seq>-<phase>-<writer>.json` while it runs (immutable,
named by the invocation that wrote it, like the backup's checkpoints), beside each the
`keys-<seq>-<writer>.bin` of key digests first seen since the previous one (to count duplicate
keys across invocations), and `result.json` once done (written once). The count of items
restored is a position in the source, never a sum of writes, so an invocation that Lambda
delivers twice cannot count an item twice.
"""

import json
import re
import uuid
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from typing import Any

from ledger_backup import layout
from ledger_backup.codec import Item, encode_item, loads_items_json
from ledger_backup.contract import RESTORES_FOLDER
from ledger_backup.errors import BackupNotFound, CorruptBackup
from ledger_backup.restore.modes import MODES
from ledger_backup.schema import TableSchema
from ledger_backup.storage.stores import BackupStore

__all__ = ["RESTORES_FOLDER", "RestoreInProgress", "RestoreJournal", "RestoreProgress", "RestoreResult"]

RESULT_NAME = "result.json"
EXTRA_KEYS_NAME = "extra-keys.jsonl"
_KEYS_NAME = re.compile(r"keys-[0-9]{12}-[A-Za-z0-9_-]{1,64}\.bin")

# Phases of a restore. VERIFY: reading the backup through before writing into an existing table;
# WRITE: writing what was verified; CHECK_AND_WRITE: one pass into a table the restore created
# itself, checking each item as it is written (on a bad input the table is deleted).
VERIFY, WRITE, CHECK_AND_WRITE = "verify", "write", "check-and-write"
# IMPORT: DynamoDB's ImportTable writes the table (restore/import_table.py); each invocation waits on it.
IMPORT = "import"
PHASES = (VERIFY, WRITE, CHECK_AND_WRITE, IMPORT)


def new_restore_id() -> str:
    """Sortable by start time, unique without coordination."""
    return f"{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}-{uuid.uuid4().hex[:8]}"


@dataclass(frozen=True)
class RestoreProgress:
    """Where a restore stands: the next item to check or write is item `item_offset` of part `part_index`.

    In the verify phase the position is the verify pass's and `verified_items` counts the items
    checked before it; once verified, `verified_items` is the backup's count. `key_digests` names
    the journal's objects holding the digests of the keys seen up to the position.
    """

    restore_id: str
    source_key: str
    source_location: str
    target_table: str
    schema: TableSchema
    schema_from: str
    table_created: bool
    expected_items: int | None
    started_at: str
    part_index: int = 0
    item_offset: int = 0
    items_restored: int = 0
    invocations: int = 0
    phase: str = WRITE
    verified_items: int = 0
    duplicate_keys: int = 0
    key_digests: tuple[str, ...] = ()
    create_table: bool = True  # the request's, for the target checks after a verify pass that was resumed
    overwrite: bool = False
    mode: str = ""  # "", "upsert", "missing" or "replace" (restore/modes.py)
    selection_key: str = ""  # the journal's copy of the chosen keys, when the restore is limited to some
    items_written: int = -1  # puts DynamoDB took up to the position; -1: as many as items_restored
    items_skipped: int = 0  # mode "missing": items whose key the table already held
    bytes_read: int = 0  # backup bytes the write pass read in the invocations before this one
    # Every verified item was stored as exactly a PutRequest line (false until a verify pass said so):
    # with no duplicate key either, the write pass sends the lines without parsing them again.
    lines_are_requests: bool = False
    extra_keys_key: str = ""  # replace: the journal's list of the table's keys the backup lacks, once known
    # A restore drill (restore/drill.py): the invocation that finishes the writes proves the table equal to
    # the backup and deletes it, so a continued or resumed drill stays a drill.
    drill: bool = False
    # A chain (sources/chain.py): the incremental exports applied after source_key's full export, and
    # the moment they are applied up to; every invocation reopens the same chain from these.
    incrementals: tuple[str, ...] = ()
    until: str = ""
    # Method "import": the ImportTable job every invocation waits on, what it imports, and the source's kind.
    # (Its checkpoints all hold the same ARN, so whichever of them sorts last resumes the wait.)
    import_arn: str = ""
    import_files: int = 0
    source_kind: str = ""

    @property
    def sequence(self) -> int:
        """Grows with every checkpoint of a restore, verify phase first: what orders its checkpoints."""
        return self.verified_items + self.items_restored

    def advanced(self, part_index: int, item_offset: int, items_restored: int) -> "RestoreProgress":
        return replace(self, part_index=part_index, item_offset=item_offset, items_restored=items_restored)

    def to_json(self) -> dict[str, Any]:
        document = asdict(self)
        document["schema"] = self.schema.to_json()
        return document

    @classmethod
    def from_json(cls, document: dict[str, Any]) -> "RestoreProgress":
        progress = cls(
            **{
                **document,
                "schema": TableSchema.from_json(document["schema"]),
                "key_digests": tuple(document.get("key_digests", ())),
                "incrementals": tuple(document.get("incrementals", ())),
            }
        )
        if progress.phase not in PHASES:
            raise ValueError(f"unknown phase {progress.phase!r}")
        if (progress.phase == IMPORT) != bool(progress.import_arn):
            raise ValueError("an import checkpoint, and only one, names its import_arn")
        if progress.mode not in ("", *MODES):
            raise ValueError(f"unknown mode {progress.mode!r}")
        if progress.selection_key and not progress.selection_key.endswith(
            f"/{progress.restore_id}/selection.jsonl"
        ):
            raise ValueError("selection_key must name the restore's own selection.jsonl")
        if progress.extra_keys_key and not progress.extra_keys_key.endswith(
            f"/{progress.restore_id}/{EXTRA_KEYS_NAME}"
        ):
            raise ValueError(f"extra_keys_key must name the restore's own {EXTRA_KEYS_NAME}")
        if not all(isinstance(name, str) and _KEYS_NAME.fullmatch(name) for name in progress.key_digests):
            raise ValueError("key_digests must name keys-<seq>-<writer>.bin objects of the restore")
        return progress


@dataclass(frozen=True)
class RestoreResult:
    """A finished restore, as it answers and as its journal records it (result.json)."""

    source: str
    kind: str
    target_table: str
    table_created: bool
    items_restored: int
    files: int
    compressed_bytes: int
    schema_from: str  # "backup", "request" or "target table": where the key schema came from
    duration_seconds: float
    restore_id: str = ""
    invocations: int = 1
    duplicate_keys: int = 0  # items whose key an earlier item of the backup had: the later copy won
    mode: str = ""
    items_skipped: int = 0  # mode "missing": the table held the key already
    items_deleted: int = 0  # mode "replace": keys the table had and the backup (or selection) lacked
    keys_not_in_backup: int = 0  # chosen keys that the backup does not hold
    method: str = ""  # "import": written by DynamoDB's ImportTable (left out of the answer otherwise)

    def to_json(self) -> dict[str, Any]:
        document = {"status": "complete", **asdict(self)}
        if not self.method:
            del document["method"]
        return document

    @classmethod
    def from_json(cls, document: dict[str, Any]) -> "RestoreResult":
        return cls(**{k: v for k, v in document.items() if k != "status"})


@dataclass(frozen=True)
class RestoreInProgress:
    """A restore that is not finished: paused by this invocation, or read back from its journal.

    One shape for both, so the answer of a pausing invocation and a status read look alike;
    the next invocation carries on from `checkpoint_key`.
    """

    restore_id: str
    checkpoint_key: str
    progress_location: str  # the restore's folder of checkpoints and, once done, result.json
    source: str
    target_table: str
    items_restored: int
    expected_items: int | None
    invocations: int
    started_at: str
    phase: str = WRITE
    items_verified: int = 0

    @classmethod
    def at(
        cls, progress: RestoreProgress, checkpoint_key: str, progress_location: str
    ) -> "RestoreInProgress":
        return cls(
            restore_id=progress.restore_id,
            checkpoint_key=checkpoint_key,
            progress_location=progress_location,
            source=progress.source_location,
            target_table=progress.target_table,
            items_restored=progress.items_restored,
            expected_items=progress.expected_items,
            invocations=progress.invocations,
            started_at=progress.started_at,
            phase=progress.phase,
            items_verified=progress.verified_items,
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "status": "continuing",
            "restore_id": self.restore_id,
            "source": self.source,
            "target_table": self.target_table,
            "items_restored": self.items_restored,
            "expected_items": self.expected_items,
            "invocations": self.invocations,
            "started_at": self.started_at,
            "phase": {VERIFY: "verifying", IMPORT: "importing"}.get(self.phase, "writing"),
            "items_verified": self.items_verified,
            "progress": self.progress_location,
        }


class RestoreJournal:
    """Reads and writes one store's restore checkpoints and results."""

    def __init__(self, store: BackupStore, prefix: str) -> None:
        self.store = store
        self.folder = f"{layout.normalize_prefix(prefix)}{RESTORES_FOLDER}"

    def restore_folder(self, restore_id: str) -> str:
        if not restore_id or "/" in restore_id or restore_id.startswith("."):
            raise BackupNotFound(f"{restore_id!r} is not a restore id")
        return f"{self.folder}{restore_id}/"

    def save(self, progress: RestoreProgress, writer_id: str) -> str:
        """Write an immutable checkpoint named by its position, so the furthest sorts last."""
        rank = (
            0 if progress.phase == VERIFY else 1
        )  # the write phase's first checkpoint after the last verify one
        name = f"checkpoint-{progress.sequence:012d}-{rank}-{writer_id}.json"
        key = self.restore_folder(progress.restore_id) + name
        self.store.put_new(key, json.dumps(progress.to_json()).encode("utf-8"))
        return key

    def save_key_digests(self, progress: RestoreProgress, writer_id: str, digests: bytes) -> str:
        """Store key digests beside the checkpoint about to be saved; returns the name to record in it."""
        name = f"keys-{progress.sequence:012d}-{writer_id}.bin"
        self.store.put(self.restore_folder(progress.restore_id) + name, digests)
        return name

    def key_digests(self, progress: RestoreProgress) -> list[bytes]:
        """The key digests a checkpoint recorded, chunk by chunk."""
        folder = self.restore_folder(progress.restore_id)
        try:
            return [self.store.get(folder + name) for name in progress.key_digests]
        except BackupNotFound as exc:
            raise CorruptBackup(
                f"restore {progress.restore_id}'s key digests are missing ({exc}): its checkpoints were "
                "tampered with; start the restore again"
            ) from exc

    def load(self, checkpoint_key: str) -> RestoreProgress:
        if not checkpoint_key.startswith(self.folder):
            raise BackupNotFound(f"{checkpoint_key!r} is not a restore checkpoint under {self.folder!r}")
        raw = self.store.get(checkpoint_key)
        try:
            return RestoreProgress.from_json(json.loads(raw))
        except (ValueError, KeyError, TypeError) as exc:
            raise CorruptBackup(
                f"restore checkpoint {self.store.location(checkpoint_key)} is unreadable: {exc}"
            ) from exc

    def latest_checkpoint(self, restore_id: str) -> str:
        """The furthest checkpoint of a restore, to resume it after a crash."""
        keys = [k for k in self.store.list_keys(self.restore_folder(restore_id)) if "/checkpoint-" in k]
        if not keys:
            raise BackupNotFound(
                f"restore {restore_id!r} has no checkpoint under {self.store.location(self.folder)}"
            )
        return max(keys, key=lambda k: k.rpartition("/checkpoint-")[2])

    def save_extra_keys(self, restore_id: str, keys: Sequence[Item]) -> str:
        """Keep a replace's list of keys to delete beside the checkpoints, for the invocation that deletes."""
        key = self.restore_folder(restore_id) + EXTRA_KEYS_NAME
        self.store.put(key, b"".join(encode_item(k).encode("utf-8", "surrogatepass") + b"\n" for k in keys))
        return key

    def extra_keys(self, progress: RestoreProgress) -> list[Item]:
        """The keys `save_extra_keys` kept for this restore."""
        raw = self.store.get(progress.extra_keys_key)
        try:
            return [loads_items_json(line) for line in raw.splitlines() if line]
        except ValueError as exc:
            raise CorruptBackup(
                f"{self.store.location(progress.extra_keys_key)} is unreadable: {exc}; "
                "run the replace again from the start"
            ) from exc

    def save_selection(self, restore_id: str, lines: bytes) -> str:
        """Keep the chosen keys beside the checkpoints, so every invocation restores the same ones."""
        key = self.restore_folder(restore_id) + "selection.jsonl"
        self.store.put(key, lines)
        return key

    def finish(self, restore_id: str, result: dict[str, Any]) -> dict[str, Any]:
        """Record the result once; a replayed twin that finishes later gets the recorded one."""
        key = self.restore_folder(restore_id) + RESULT_NAME
        try:
            self.store.put_new(key, json.dumps(result, indent=2).encode("utf-8"))
        except FileExistsError:
            return self._read_result(key)
        return result

    def result(self, restore_id: str) -> dict[str, Any] | None:
        key = self.restore_folder(restore_id) + RESULT_NAME
        if not self.store.exists(key):
            return None
        return self._read_result(key)

    def _read_result(self, key: str) -> dict[str, Any]:
        try:
            recorded = json.loads(self.store.get(key))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise CorruptBackup(f"restore result {self.store.location(key)} is unreadable: {exc}") from exc
        if not isinstance(recorded, dict):
            raise CorruptBackup(f"restore result {self.store.location(key)} is not a JSON object")
        return recorded

    def status(self, restore_id: str) -> RestoreResult | RestoreInProgress:
        """The result when done, else how far the furthest checkpoint got."""
        result = self.result(restore_id)
        if result is not None:
            return RestoreResult.from_json(result)
        checkpoint_key = self.latest_checkpoint(restore_id)
        return self.in_progress(self.load(checkpoint_key), checkpoint_key)

    def in_progress(self, progress: RestoreProgress, checkpoint_key: str) -> RestoreInProgress:
        """Where the restore stands at `checkpoint_key` (`progress` is what it holds)."""
        location = self.store.location(self.restore_folder(progress.restore_id))
        return RestoreInProgress.at(progress, checkpoint_key, location)

    def discard_checkpoints(self, restore_id: str) -> None:
        """Delete a restore's checkpoints and key digests (its result, if any, stays)."""
        self.store.delete(
            [
                k
                for k in self.store.list_keys(self.restore_folder(restore_id))
                if "/checkpoint-" in k or "/keys-" in k
            ]
        )
