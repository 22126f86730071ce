"""What a restore does with the items an existing target already holds: its `mode`.

- no mode: today's behaviour: an empty (or created) target, or any target with overwrite;
- "upsert": every backup item is put, replacing the table's copy; needs overwrite on a
  non-empty target (it is what overwrite does);
- "missing": only items whose key the table lacks, by conditional puts, so a write the pipeline
  makes meanwhile is never overwritten; allowed on a non-empty target without overwrite;
- "replace": upsert, then delete the table's keys that the backup (or the selection) lacks, so
  the table ends equal to it; needs overwrite on a non-empty target.
"""

from ledger_backup.errors import InvalidRequest

UPSERT, MISSING, REPLACE = "upsert", "missing", "replace"
MODES = (UPSERT, MISSING, REPLACE)


def check_mode(mode: str) -> str:
    """The mode, or InvalidRequest naming the ones there are ("" is no mode)."""
    if mode and mode not in MODES:
        raise InvalidRequest(f"mode must be one of {', '.join(MODES)}, not {mode!r}")
    return mode


def writes_over_items(mode: str, overwrite: bool) -> bool:
    """Whether a non-empty target may be written: with overwrite, or in mode "missing", which never
    replaces an item."""
    return overwrite or mode == MISSING
