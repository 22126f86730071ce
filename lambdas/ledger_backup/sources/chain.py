"""A full DynamoDB export plus incremental exports after it, read as one backup: the table at `until`.

The chain is checked whole before anything else happens: each incremental's manifests, its
continuity (its exportFromTime is the previous export's end: the full export's exportTime, then
each incremental's exportToTime), `until` inside the chain, then every incremental's data files
read through (MD5 and line count against manifest-files.json). What comes out is a Source like
any other, so a restore verifies, writes, pauses and resumes it as it does a full backup, in every
mode:

- the full export's parts, each without the items whose key a change of the chain names;
- one last part: the newest image of each key the chain put, in key order.

A key the chain deleted is simply not there: a new table never gets it, `replace` deletes it from
an existing one. The changes are kept in memory (at most MAX_CHANGE_BYTES of change records), and
built again the same way by every invocation of a restore, so positions in the source stay valid.

`until` is compared with each record's WriteTimestampMicros (a change at or before it is applied).
An incremental export keeps only an item's last change in its window, so an item changed both
before and after `until` inside one export stays as it was at that export's start.
"""

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from ledger_backup.chain import load_chain
from ledger_backup.codec import Item
from ledger_backup.errors import BackupNotFound, CorruptBackup, InvalidRequest
from ledger_backup.manifest import INCREMENTAL_NAME, INCREMENTALS_FOLDER
from ledger_backup.restore.digest import canonical_key_text
from ledger_backup.sources.aws_incremental import IncrementalExport, micros, open_incremental, parse_time
from ledger_backup.sources.base import Part, ReadMeter, Source, StoredItem
from ledger_backup.sources.detect import open_source
from ledger_backup.storage.stores import BackupStore

MAX_INCREMENTALS = 1000
ALL_INCREMENTALS = "all"  # every incremental link this tool's export backup records
MAX_CHANGE_BYTES = 512 * 2**20  # decompressed change records held in memory to build the state


@dataclass(frozen=True)
class _Latest:
    written_micros: int
    image: Item | None  # None: deleted


def open_chain(store: BackupStore, full: Source, incrementals: Sequence[str], until: str = "") -> Source:
    """The state at `until` (default: the chain's end) of `full` and `incrementals`, in that order.

    Refusals, all before anything is written: InvalidRequest for a chain that cannot be asked for
    (too long, a full backup with no recorded time, `until` outside the chain), CorruptBackup for a
    broken chain or a damaged incremental, NotABackup for a key that is not an incremental export.
    """
    if not incrementals:
        raise InvalidRequest("a chain needs at least one incremental export after the full export")
    if len(incrementals) > MAX_INCREMENTALS:
        raise InvalidRequest(
            f"{len(incrementals)} incrementals is over {MAX_INCREMENTALS}: restore a later full export "
            "with the incrementals after it"
        )
    if full.as_of is None:
        raise InvalidRequest(
            f"{full.location} records no moment it is consistent at (a DynamoDB full export's exportTime), "
            "so no incremental export can be shown to follow it: give a DynamoDB full export's "
            "manifest-summary.json as s3_key"
        )
    exports = [open_incremental(store, key) for key in incrementals]
    chain_end = _check_continuity(full, full.as_of, exports)
    cut = parse_time(until, "until") if until else None
    if cut is not None and cut < full.as_of:
        raise InvalidRequest(
            f"until {until} is before the full export's time {full.as_of.isoformat()}: "
            "restore an earlier full export, or give a later until"
        )
    if cut is not None and cut > chain_end:
        raise InvalidRequest(
            f"until {until} is after the chain's end {chain_end.isoformat()} (the last incremental's "
            "exportToTime): add the incremental exports that cover it, or give an earlier until"
        )
    latest, key_names, skipped = _read_changes(exports, micros(cut) if cut is not None else None)
    return _composed(full, exports, latest=latest, key_names=key_names, skipped=skipped, until=until)


def _check_continuity(full: Source, as_of: datetime, exports: Sequence[IncrementalExport]) -> datetime:
    """Each export starts where the one before ended; returns the chain's end."""
    end, end_of = as_of, f"the full export {full.location} (exportTime)"
    for number, export in enumerate(exports, start=1):
        if export.from_time != end:
            raise CorruptBackup(
                f"the chain is broken at incremental {number}: {export.location} starts at "
                f"{export.from_time.isoformat()} but {end_of} ends at {end.isoformat()}; give every "
                "incremental export between them, in order, or restore only up to the gap"
            )
        end, end_of = export.to_time, f"incremental {number} ({export.location})"
    return end


def _read_changes(
    exports: Sequence[IncrementalExport], cut_micros: int | None
) -> tuple[dict[str, _Latest], tuple[str, ...], int]:
    """Every change of the chain read (and each file checked); the newest one per key up to the cut."""
    latest: dict[str, _Latest] = {}
    key_names: tuple[str, ...] = ()
    skipped = 0
    meter = ReadMeter()
    for export in exports:
        for change in export.changes(meter):
            names = tuple(sorted(change.key))
            if not key_names:
                key_names = names
            elif names != key_names:
                raise CorruptBackup(
                    f"{export.location}: a record's Keys name {', '.join(names)} where earlier ones name "
                    f"{', '.join(key_names)}: the exports are not of one table"
                )
            if cut_micros is not None and change.written_micros > cut_micros:
                skipped += 1
                continue
            text = change.key_text()
            known = latest.get(text)
            if known is None or change.written_micros >= known.written_micros:
                latest[text] = _Latest(change.written_micros, change.new_image)
            if meter.json_bytes > MAX_CHANGE_BYTES:
                raise InvalidRequest(
                    f"the incremental exports hold over {MAX_CHANGE_BYTES // 2**20} MiB of changes, "
                    "more than a restore keeps in memory: restore a later full export with fewer incrementals"
                )
    return latest, key_names, skipped


def _composed(
    full: Source,
    exports: Sequence[IncrementalExport],
    *,
    latest: dict[str, _Latest],
    key_names: tuple[str, ...],
    skipped: int,
    until: str,
) -> Source:
    puts = [(text, entry.image) for text, entry in sorted(latest.items()) if entry.image is not None]
    deletes = len(latest) - len(puts)
    parts: list[Part] = [_WithoutKeys(part, latest, key_names) if latest else part for part in full.parts]
    if puts:
        where = f"the newest images of {len(puts)} items the chain put"
        parts.append(_ChangedItems(where, [image for _, image in puts]))
    notes = [
        f"{len(exports)} incremental exports applied up to {until or 'their end'}: "
        f"{len(puts)} items put, {deletes} deleted"
    ]
    if skipped:
        notes.append(f"{skipped} changes written after until were left out")
    return replace(
        full,
        location=f"{full.location} + {len(exports)} incremental exports{f' until {until}' if until else ''}",
        parts=tuple(parts),
        expected_items=None,  # which of the full export's items the chain replaces is known only once read
        integrity=(
            f"{full.integrity}; each incremental export's manifests, MD5s and counts and the chain's "
            "continuity, checked before the first write"
        ),
        notes=(*full.notes, *notes),
        incrementals=tuple(e.key for e in exports),
        until=until,
        key_names=key_names,
    )


@dataclass(frozen=True)
class _WithoutKeys:
    """A part of the full export without the items the chain changed (their newest state comes last)."""

    part: Part
    changed: Mapping[str, object]
    key_names: Sequence[str]

    @property
    def location(self) -> str:
        return self.part.location

    @property
    def expected_items(self) -> int | None:
        return None

    def items(self, meter: ReadMeter | None = None) -> Iterator[Item]:
        for item, _ in self.entries(meter):
            yield item

    def entries(self, meter: ReadMeter | None = None) -> Iterator[StoredItem]:
        """The part's entries read through (so its own checks run), less the changed keys."""
        changed, names = self.changed, self.key_names
        for entry in self.part.entries(meter):
            item = entry[0]
            if all(name in item for name in names) and canonical_key_text(item, names) in changed:
                continue
            yield entry


@dataclass(frozen=True)
class _ChangedItems:
    """The chain's puts: each changed key's newest image, in key order (the same in every invocation)."""

    where: str
    images: Sequence[Item]

    @property
    def location(self) -> str:
        return self.where

    @property
    def expected_items(self) -> int:
        return len(self.images)

    def items(self, meter: ReadMeter | None = None) -> Iterator[Item]:
        for item, _ in self.entries(meter):
            yield item

    def entries(self, meter: ReadMeter | None = None) -> Iterator[StoredItem]:
        """Copies, so a reader that changes an item does not change the next invocation's view of it."""
        for image in self.images:
            yield dict(image), None


def open_source_chain(
    store: BackupStore, key: str, incrementals: Sequence[str] | str = (), until: str = ""
) -> Source:
    """The backup `key` names (any kind), with the chain of incremental exports after it when given.

    `incrementals` is their manifest-summary.json keys in order, or ALL_INCREMENTALS: every link this
    tool's export backup `key` records (its `incrementals/<ts>/incremental.json`), in sequence order.
    """
    if until and not incrementals:
        raise InvalidRequest(
            "until needs incrementals: it picks a moment inside a chain of incremental exports"
        )
    if isinstance(incrementals, str):
        if incrementals != ALL_INCREMENTALS:
            raise InvalidRequest(
                f'incrementals is a list of keys or "{ALL_INCREMENTALS}", not {incrementals!r}'
            )
        incrementals = recorded_incrementals(store, key)
    full = open_source(store, key)
    return open_chain(store, full, incrementals, until) if incrementals else full


def recorded_incrementals(store: BackupStore, key: str) -> list[str]:
    """The summaries of the incremental links an export backup of this tool records, in sequence order.

    Found from the links' own records in the base's folder (ledger_backup.chain), never from a listing
    of DynamoDB's data folders; a chain those records show broken is refused, naming each problem.
    """
    try:
        chain = load_chain(store, key)
    except BackupNotFound as exc:
        raise InvalidRequest(
            f'incrementals "{ALL_INCREMENTALS}" follows the chain this tool\'s export backups record, and '
            f"{store.location(key)} is not one ({exc}): give the incremental exports' keys, in order"
        ) from exc
    where = store.location(chain.base.manifest_key)
    if chain.problems:
        raise CorruptBackup(
            f"the incremental exports recorded in {where} do not chain: {'; '.join(chain.problems)}"
        )
    if not chain.links:
        raise InvalidRequest(
            f"{where} records no incremental exports (no {INCREMENTALS_FOLDER}<ts>/{INCREMENTAL_NAME}): "
            "restore it without incrementals, or give the incremental exports' keys"
        )
    return [folder + link.source.summary_key for folder, link in chain.links]
