"""Replace mode: the table's keys that the backup lacks, read while the backup is being verified.

The verify pass is our work (reading and checking every item) and leaves DynamoDB idle; a key-only
parallel Scan of the target is DynamoDB's work. Run side by side, the keys cost a replace little
time, and once the backup is verified its keys (KeyDigests) say which of the table's to delete.
The keys wait in a temporary file on local disk, not in memory: a table may hold many more keys
than the backup. What is deleted is what the table held when the restore began and the backup
lacks; a key written by someone else during the restore is left alone.
"""

import contextlib
import tempfile
import threading
from collections.abc import Iterator
from typing import IO, TYPE_CHECKING

from ledger_backup.aws.tables import parallel_table_items
from ledger_backup.codec import Item, encode_item, loads_items_json
from ledger_backup.restore.keyset import KeyDigests
from ledger_backup.schema import TableSchema

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

__all__ = ["TableKeyScan"]


class TableKeyScan:
    """A key-only Scan of the target in a thread of its own; `extra_keys` once the backup is verified."""

    def __init__(self, dynamodb: "DynamoDBClient", table_name: str, schema: TableSchema) -> None:
        self._key_names = list(schema.key_names)
        self._keys = KeyDigests(schema)  # only its digest function: the same as the backup's keys
        self._file: IO[bytes] = tempfile.TemporaryFile(prefix="ledger-backup-keys-")  # noqa: SIM115
        self._items = parallel_table_items(dynamodb, table_name, key_names=self._key_names)
        self._error: BaseException | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._read, name="replace-key-scan", daemon=True)
        self._thread.start()

    def _read(self) -> None:
        """Each key as a line: its digest (hex), a tab, its DynamoDB JSON."""
        try:
            write, digest = self._file.write, self._keys.digest
            with contextlib.closing(self._items):  # leaving early stops the segments' threads
                for key in self._items:
                    if self._stop.is_set():
                        return
                    line = f"{digest(key) or 0:016x}\t{encode_item(key)}\n"
                    write(line.encode("utf-8", "surrogatepass"))
        except BaseException as exc:  # raised by extra_keys, in the restore's thread
            self._error = exc

    def extra_keys(self, backup_keys: KeyDigests) -> list[Item]:
        """Wait for the Scan's end; the table's keys whose digest the backup's keys lack."""
        self._thread.join()
        if self._error is not None:
            raise self._error
        return list(self._missing_from(backup_keys))

    def _missing_from(self, backup_keys: KeyDigests) -> Iterator[Item]:
        self._file.flush()
        self._file.seek(0)
        for line in self._file:
            digest, _, key_text = line.partition(b"\t")
            if not backup_keys.has_digest(int(digest, 16)):
                key: Item = loads_items_json(key_text)
                yield key

    def close(self) -> None:
        """Stop the Scan (if it still runs) and drop the file."""
        self._stop.set()
        self._thread.join(timeout=30)
        with contextlib.suppress(OSError):
            self._file.close()
