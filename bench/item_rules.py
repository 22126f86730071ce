"""How many items per second ItemRules checks: the cost the restore pays for refusing bad items up front.

The restore checks each item right after parsing its backup line, and passes the line's length (so
the 400 KB count is skipped). This does the same: each chunk of lines is decoded untimed, then its
items are checked timed, while they are still in the CPU's caches as they are in the restore;
checking long-built items one after the other would mostly measure cache misses.
"""

import time
from collections.abc import Sequence
from typing import Any

from ledger_backup.codec import decode_stored_line, encode_line
from ledger_backup.item_rules import ItemRules
from ledger_backup.schema import TableSchema

_CHUNK = 100  # lines decoded, then checked: about a BatchWriteItem's worth of parsing ahead
_ROUNDS = 3


def check_rate(items: Sequence[dict[str, Any]], schema: TableSchema) -> float:
    """Items ItemRules(schema).check accepts per second (best of 3 rounds over `items`)."""
    rules = ItemRules(schema)
    lines = [encode_line(item).encode("utf-8") for item in items]
    best = min(_timed_round(rules, lines) for _ in range(_ROUNDS))
    return len(lines) / best if best > 0 else 0.0


def _timed_round(rules: ItemRules, lines: list[bytes]) -> float:
    check = rules.check
    clock = time.perf_counter
    spent = 0.0
    for start in range(0, len(lines), _CHUNK):
        chunk = lines[start : start + _CHUNK]
        decoded = [(decode_stored_line(line)[0], len(line)) for line in chunk]
        began = clock()
        for item, text_bytes in decoded:
            check(item, text_bytes)
        spent += clock() - began
    return spent
