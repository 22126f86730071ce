"""One interpreter setting for this tool's processes: hand the GIL over sooner.

A backup, restore or plan is one CPU-bound thread (reading, checking, digesting) beside I/O
threads (Scan segments, BatchWriteItem lanes, S3 parts). An I/O thread whose answer has arrived
waits for the CPU-bound thread to give up the interpreter lock, which CPython asks of it only
every switch interval (5 ms by default): with a request per batch of 25 items, those waits added
up to a large share of a restore's time. A shorter interval lets the I/O threads in sooner at the
cost of more frequent switches (`make bench` measures a restore both ways).

The setting is the process's, so only entry points make it (the CLI's `main`, the Lambda
handlers' modules), never the core's functions.
"""

import sys

IO_SWITCH_INTERVAL_SECONDS = 0.0005


def prefer_io_threads(interval: float = IO_SWITCH_INTERVAL_SECONDS) -> None:
    """Set this process's switch interval (sys.setswitchinterval) to `interval` seconds."""
    sys.setswitchinterval(interval)
