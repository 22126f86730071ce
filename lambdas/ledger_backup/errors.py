"""The failures a user can act on, each with one message that names the problem.

Every error the core raises on purpose derives from LedgerBackupError, so callers
(handlers, CLI) can tell "the request or the data is wrong" from a crash.
"""


class LedgerBackupError(Exception):
    """Base class: the message is meant for the person running the backup or restore."""


class InvalidRequest(LedgerBackupError):
    """The request itself is malformed or not allowed (bad event, forbidden target)."""


class TableNotFound(LedgerBackupError):
    """A table that must exist does not."""


class SchemaMismatch(LedgerBackupError):
    """The target table's key schema differs from the backup's."""


class TargetNotEmpty(LedgerBackupError):
    """The target already holds items and the caller did not ask to overwrite."""


class BackupNotFound(LedgerBackupError):
    """No backup object exists where the caller pointed."""


class IncompleteBackup(LedgerBackupError):
    """A backup folder without a manifest: the backup never finished and is never restored from."""


class CorruptBackup(LedgerBackupError):
    """A backup whose bytes disagree with its manifest (checksum, count, truncation, bad JSON)."""


class TargetBusy(LedgerBackupError):
    """Another restore holds the target table (or created it meanwhile): two restores would blend."""


class InvocationLimitReached(LedgerBackupError):
    """A chained backup or restore reached its cap of invocations (max_invocations) and stopped.

    It did not invoke itself again; its last checkpoint is kept, so a person can carry it on.
    """


class RestoreDrillFailed(LedgerBackupError):
    """A restore drill could not prove that a backup restores to exactly its own items.

    The message names the backup, the problem and what became of the drill's table.
    """


class ImportFailed(LedgerBackupError):
    """DynamoDB's ImportTable failed, or finished with other counts than the verified backup's.

    The message names the import, what it reported and what to do.
    """


class DeleteRefused(LedgerBackupError):
    """The store refused to delete some objects (S3 DeleteObjects answers 200 and lists them)."""
