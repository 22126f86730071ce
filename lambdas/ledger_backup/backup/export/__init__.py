"""Back up a table with DynamoDB's own export: start it, wait for it across invocations, catalog it.

An export (ExportTableToPointInTime) is consistent to one moment and reads none of the table's
capacity, but it takes minutes to hours and DynamoDB does the writing. So a backup of this kind
is three steps, each in its own invocation:

1. `start_export_backup` (or `start_incremental_export`) asks DynamoDB for the export into the
   backup folder and records a *job* under `<prefix>export-jobs/<table>/<ExportId>/job.json`.
2. `poll_exports`, run by a fixed schedule every few minutes (infra: the export-poll rule), reads
   each job's DescribeExport; while the export runs it answers "continuing" and does nothing else.
3. Once COMPLETED, the same poll catalogs it: both manifests checked against their `.md5` files,
   every data file read through, its MD5 and line count checked against manifest-files.json, and
   its SHA-256 and sizes measured; then this tool's `manifest.json` (or an incremental link's
   `incremental.json`, see ledger_backup.manifest) is written last, and the job removed.

Only the files DynamoDB's manifest-files.json names are read (never a listing of the export's
`data/` folder, which incremental exports share). Cataloging a large export can outlast one
invocation: it pauses between files at a numbered checkpoint (`checked-NNNN.json`), and a claim
(`claim-NNNN.json`, written only if absent and valid until that invocation's timeout) keeps two
polls from cataloging the same export at once.

The package by concern: `jobs` (the job record and the answers), `start`, `poll`, `catalog`.
"""

from ledger_backup.backup.export.catalog import ExportFileEntry, catalog_export, check_data_file
from ledger_backup.backup.export.jobs import (
    ExportBackupResult,
    ExportJob,
    ExportPending,
    ExportRefused,
    IncrementalResult,
    IncrementalSkipped,
    PollOutcome,
    incremental_bases,
    job_folder,
    jobs_folder,
)
from ledger_backup.backup.export.poll import poll_exports
from ledger_backup.backup.export.start import require_pitr, start_export_backup, start_incremental_export

__all__ = [
    "ExportBackupResult",
    "ExportFileEntry",
    "ExportJob",
    "ExportPending",
    "ExportRefused",
    "IncrementalResult",
    "IncrementalSkipped",
    "PollOutcome",
    "catalog_export",
    "check_data_file",
    "incremental_bases",
    "job_folder",
    "jobs_folder",
    "poll_exports",
    "require_pitr",
    "start_export_backup",
    "start_incremental_export",
]
