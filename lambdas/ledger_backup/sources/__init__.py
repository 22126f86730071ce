"""Every kind of backup the user has, behind one interface (see base.py): open, then read parts.

`open_source(store, key)` detects the kind from the key and the object; `open_latest` picks the
newest complete backup of a table.
"""

from ledger_backup.sources.base import NotABackup, Part, ReadMeter, Source, SourceKind
from ledger_backup.sources.detect import LATEST, open_latest, open_source

__all__ = ["LATEST", "NotABackup", "Part", "ReadMeter", "Source", "SourceKind", "open_latest", "open_source"]
