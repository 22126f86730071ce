"""Entry point for `python -m ledger_backup`."""

import sys

from ledger_backup.cli import main

sys.exit(main())
