"""How a long pass tells its caller how far it got: for a person watching (the CLI's bar), not for control.

The entry points that read or write every item take an optional `on_progress` and hand it down
by plain calls to where items are counted. Nothing in the core depends on what the listener
does; without one (the Lambda functions) nothing is reported.
"""

from typing import Protocol

SCANNING = "backing up"  # a backup's Scan: items written into data files
VERIFYING = "verifying"  # the verify pass: items read and checked (verify, diff, a restore's first pass)
WRITING = "writing"  # a restore's writes: items of the source handled, written when chosen
DELETING = "deleting extra keys"  # a replace-mode restore's deletes, after its writes
READING_TABLE = "reading table"  # verify --against: the table's items, read to compare

REPORT_EVERY = 1000  # items between two reports of a pass that counts one item at a time


class ProgressListener(Protocol):
    """Told when a stage begins and as its items are done.

    `begin` opens a stage with its expected item count (None when not known; an estimate for a
    backup, DescribeTable's ItemCount); `advance` adds `items` done in the current stage, a page
    or a thousand items at a time. A backup's scan segments call `advance` from several threads
    at once: an implementation must be thread-safe and cheap.
    """

    def begin(self, stage: str, total: int | None) -> None: ...

    def advance(self, items: int) -> None: ...
