"""The manifest: the last object a backup writes, and the only proof that the backup is whole.

A folder whose manifest is missing never finished; a manifest that does not parse, or
whose numbers disagree with its files, marks a corrupt backup. Both are refused.

Three kinds share this module (README "Backup methods" has the same text):

* A **scan backup**: `<prefix><table>/<UTC ts>/manifest.json`, `"format": "ledger-backup"`,
  `"format_version": 1`, files `data/segment-*.json.gz` of `{"Item": ...}` lines. No `source`.
* A **full export backup** (backup_method export): the same document and version, plus
  `"source"`::

      "source": {"kind": "dynamodb-export", "export_type": "FULL_EXPORT",
                 "export_arn": "arn:aws:dynamodb:...:table/ledger/export/01733...-1a2b3c4d",
                 "export_time": "2026-12-04T18:00:00+00:00",   # the backup's consistent moment
                 "summary_key": "AWSDynamoDB/01733...-1a2b3c4d/manifest-summary.json"}

  Its `files` are DynamoDB's own data files, keys relative to the backup folder
  (`AWSDynamoDB/<ExportId>/data/<name>.json.gz`), each with the SHA-256, sizes and item count
  this tool measured while checking the file's MD5 against manifest-files.json; lines are
  `{"Item": ...}` as in a scan backup (blank lines allowed, last newline optional). So a
  full export backup lists, verifies, restores, prunes and drills like a scan backup.
* An **incremental export link**: `<base folder>incrementals/<UTC ts>/incremental.json` (not
  `manifest.json`, so `list`, `latest` and older readers never take it for a backup of its own),
  `"format": "ledger-backup-incremental"`, `"format_version": 1`::

      {"format": "ledger-backup-incremental", "format_version": 1,
       "table": {"name": ..., "arn": ...}, "schema": {...},
       "base": "backups/ledger/2026-12-04T18-00-00.000Z/",      # the full export backup's folder
       "previous": "backups/ledger/2026-12-04T18-00-00.000Z/",  # the link before (the base for the 1st)
       "sequence": 1,                                           # 1, 2, ... within the base's chain
       "source": {"kind": "dynamodb-export", "export_type": "INCREMENTAL_EXPORT",
                  "export_arn": ..., "export_from_time": ..., "export_to_time": ...,
                  "view_type": "NEW_AND_OLD_IMAGES", "summary_key": "AWSDynamoDB/<id>/manifest-summary.json"},
       "started_at": ..., "finished_at": ..., "item_count": ..., "compressed_bytes": ...,
       "uncompressed_bytes": ..., "files": [...]}

  Its `files` (keys relative to the link's folder, `AWSDynamoDB/data/<name>.json.gz`: the shared
  data folder of its own export prefix) hold change records, one a line:
  `{"Metadata": {"WriteTimestampMicros": ...}, "Keys": {...}, "NewImage"?: {...}, "OldImage"?: {...}}`
  (insert: NewImage only; delete: OldImage only; update: both, and NewImage may lack attributes
  OldImage had). Continuity: a link's `export_from_time` equals the previous link's
  `export_to_time`, or the base's `export_time` for the first; `chain_errors` checks it.

A scan or full export backup may carry `"label"` and `"retain_until"` (a labeled backup, kept by
the retention policy until then: ledger_backup/retention.py). Both are optional and written only
when set, so a manifest without them is the document it was before they existed, and readers that
predate them ignore them and still restore the backup whole: FORMAT_VERSION stays 1 (a new version
is for a change an older reader would get wrong).

All times are ISO 8601 with a zone (UTC). Readers must refuse a `format`/`format_version` they do not know.
"""

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ledger_backup.errors import CorruptBackup
from ledger_backup.schema import TableSchema

FORMAT = "ledger-backup"
FORMAT_VERSION = 1
INCREMENTAL_FORMAT = "ledger-backup-incremental"
INCREMENTAL_FORMAT_VERSION = 1
INCREMENTAL_NAME = "incremental.json"
INCREMENTALS_FOLDER = "incrementals/"
EXPORT_SOURCE = "dynamodb-export"
FULL_EXPORT = "FULL_EXPORT"
INCREMENTAL_EXPORT = "INCREMENTAL_EXPORT"


@dataclass(frozen=True)
class DataFile:
    """One gzipped file of `{"Item": ...}` lines, as the manifest lists it."""

    key: str  # relative to the backup folder, e.g. "data/segment-0000-part-0000.json.gz"
    item_count: int
    compressed_bytes: int
    uncompressed_bytes: int
    sha256: str  # hex digest of the object's bytes (the gzip stream)

    def to_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "item_count": self.item_count,
            "compressed_bytes": self.compressed_bytes,
            "uncompressed_bytes": self.uncompressed_bytes,
            "sha256": self.sha256,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "DataFile":
        return cls(
            key=_str(data["key"]),
            item_count=_count(data["item_count"]),
            compressed_bytes=_count(data["compressed_bytes"]),
            uncompressed_bytes=_count(data["uncompressed_bytes"]),
            sha256=_str(data["sha256"]),
        )


@dataclass(frozen=True)
class ExportSource:
    """The DynamoDB export a backup (or an incremental link) was made from, as its summary recorded it."""

    export_arn: str
    export_type: str  # FULL_EXPORT or INCREMENTAL_EXPORT
    summary_key: str  # the export's manifest-summary.json, relative to the backup folder
    export_time: str | None = None  # FULL_EXPORT: the moment the table's copy is consistent to
    export_from_time: str | None = None  # INCREMENTAL_EXPORT: changes from (inclusive) ...
    export_to_time: str | None = None  # ... to (exclusive)
    view_type: str | None = None  # INCREMENTAL_EXPORT: NEW_AND_OLD_IMAGES

    def to_json(self) -> dict[str, Any]:
        document: dict[str, Any] = {
            "kind": EXPORT_SOURCE,
            "export_type": self.export_type,
            "export_arn": self.export_arn,
            "summary_key": self.summary_key,
        }
        optional = {
            "export_time": self.export_time,
            "export_from_time": self.export_from_time,
            "export_to_time": self.export_to_time,
            "view_type": self.view_type,
        }
        document.update({name: value for name, value in optional.items() if value is not None})
        return document

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "ExportSource":
        if data.get("kind") != EXPORT_SOURCE:
            raise ValueError(f"source kind {data.get('kind')!r} is not {EXPORT_SOURCE!r}")
        source = cls(
            export_arn=_str(data["export_arn"]),
            export_type=_str(data["export_type"]),
            summary_key=_str(data["summary_key"]),
            export_time=_optional_time(data, "export_time"),
            export_from_time=_optional_time(data, "export_from_time"),
            export_to_time=_optional_time(data, "export_to_time"),
            view_type=_optional_str(data, "view_type"),
        )
        if source.export_type == FULL_EXPORT and source.export_time is None:
            raise ValueError("a FULL_EXPORT source lacks export_time")
        if source.export_type == INCREMENTAL_EXPORT and (
            source.export_from_time is None or source.export_to_time is None
        ):
            raise ValueError("an INCREMENTAL_EXPORT source lacks export_from_time or export_to_time")
        if source.export_type not in (FULL_EXPORT, INCREMENTAL_EXPORT):
            raise ValueError(f"export_type {source.export_type!r} is unknown")
        return source


@dataclass(frozen=True)
class Manifest:
    """Everything needed to restore and to prove a backup complete."""

    table_name: str
    table_arn: str
    schema: TableSchema
    started_at: str
    finished_at: str
    total_segments: int
    files: list[DataFile] = field(default_factory=list)
    source: ExportSource | None = None  # None: a Scan by this tool
    label: str | None = None  # e.g. "before-pipeline-v4" (names.LABEL_PATTERN)
    retain_until: str | None = None  # ISO 8601 time: the retention policy keeps the backup until then

    @property
    def item_count(self) -> int:
        return sum(f.item_count for f in self.files)

    @property
    def consistent_at(self) -> datetime | None:
        """An export's single moment; a Scan has none (each item is as it was when its page was read)."""
        if self.source is None or self.source.export_time is None:
            return None
        return _time(self.source.export_time, "export_time")

    @property
    def finished(self) -> datetime:
        """When the backup finished, as recorded: what orders backups (a folder's name is not trusted)."""
        return _time(self.finished_at)

    @property
    def compressed_bytes(self) -> int:
        return sum(f.compressed_bytes for f in self.files)

    @property
    def uncompressed_bytes(self) -> int:
        return sum(f.uncompressed_bytes for f in self.files)

    def to_json_bytes(self) -> bytes:
        document = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "table": {"name": self.table_name, "arn": self.table_arn},
            "schema": self.schema.to_json(),
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "total_segments": self.total_segments,
            "item_count": self.item_count,
            "compressed_bytes": self.compressed_bytes,
            "uncompressed_bytes": self.uncompressed_bytes,
            "files": [f.to_json() for f in self.files],
        }
        if self.source is not None:
            document["source"] = self.source.to_json()
        if self.label is not None:
            document["label"] = self.label
        if self.retain_until is not None:
            document["retain_until"] = self.retain_until
        return (json.dumps(document, indent=2, ensure_ascii=False) + "\n").encode("utf-8")

    @classmethod
    def from_json_bytes(cls, raw: bytes, where: str) -> "Manifest":
        """Parse and cross-check a manifest; CorruptBackup names `where` and the problem."""
        document = _document(raw, where, "manifest", FORMAT, FORMAT_VERSION)
        try:
            manifest = cls(
                table_name=_str(document["table"]["name"]),
                table_arn=_str(document["table"].get("arn", "")),
                schema=TableSchema.from_json(document["schema"]),
                started_at=_str(document["started_at"]),
                finished_at=_str(document["finished_at"]),
                total_segments=_count(document["total_segments"]),
                files=[DataFile.from_json(f) for f in document["files"]],
                source=ExportSource.from_json(document["source"]) if "source" in document else None,
                label=_optional_str(document, "label"),
                retain_until=_optional_time(document, "retain_until"),
            )
            _time(manifest.finished_at)
            if manifest.source is not None and manifest.source.export_type != FULL_EXPORT:
                raise ValueError(f"source.export_type is {manifest.source.export_type}, not {FULL_EXPORT}")
            declared = _declared_totals(document)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise CorruptBackup(f"manifest {where} is malformed: missing or invalid field {exc}") from exc
        actual = (manifest.item_count, manifest.compressed_bytes, manifest.uncompressed_bytes)
        _check_totals(f"manifest {where}", "items", declared, actual)
        return manifest


@dataclass(frozen=True)
class IncrementalManifest:
    """One incremental export of a chain: the changes to the table between two moments."""

    table_name: str
    table_arn: str
    schema: TableSchema
    base: str  # folder of the full export backup the chain starts from
    previous: str  # folder of the link before this one (the base for the first link)
    sequence: int  # 1 for the first link after the base
    source: ExportSource
    started_at: str
    finished_at: str
    files: list[DataFile] = field(default_factory=list)

    @property
    def item_count(self) -> int:
        """Change records, not items: an item changed in two exports counts in both."""
        return sum(f.item_count for f in self.files)

    @property
    def compressed_bytes(self) -> int:
        return sum(f.compressed_bytes for f in self.files)

    @property
    def uncompressed_bytes(self) -> int:
        return sum(f.uncompressed_bytes for f in self.files)

    @property
    def from_time(self) -> datetime:
        return _time(self.source.export_from_time or "", "export_from_time")

    @property
    def to_time(self) -> datetime:
        return _time(self.source.export_to_time or "", "export_to_time")

    def to_json_bytes(self) -> bytes:
        document = {
            "format": INCREMENTAL_FORMAT,
            "format_version": INCREMENTAL_FORMAT_VERSION,
            "table": {"name": self.table_name, "arn": self.table_arn},
            "schema": self.schema.to_json(),
            "base": self.base,
            "previous": self.previous,
            "sequence": self.sequence,
            "source": self.source.to_json(),
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "item_count": self.item_count,
            "compressed_bytes": self.compressed_bytes,
            "uncompressed_bytes": self.uncompressed_bytes,
            "files": [f.to_json() for f in self.files],
        }
        return (json.dumps(document, indent=2, ensure_ascii=False) + "\n").encode("utf-8")

    @classmethod
    def from_json_bytes(cls, raw: bytes, where: str) -> "IncrementalManifest":
        """Parse and cross-check an incremental link; CorruptBackup names `where` and the problem."""
        document = _document(
            raw, where, "incremental manifest", INCREMENTAL_FORMAT, INCREMENTAL_FORMAT_VERSION
        )
        try:
            link = cls(
                table_name=_str(document["table"]["name"]),
                table_arn=_str(document["table"].get("arn", "")),
                schema=TableSchema.from_json(document["schema"]),
                base=_str(document["base"]),
                previous=_str(document["previous"]),
                sequence=_count(document["sequence"]),
                source=ExportSource.from_json(document["source"]),
                started_at=_str(document["started_at"]),
                finished_at=_str(document["finished_at"]),
                files=[DataFile.from_json(f) for f in document["files"]],
            )
            _time(link.finished_at)
            if link.source.export_type != INCREMENTAL_EXPORT or link.sequence < 1:
                raise ValueError(f"source.export_type {link.source.export_type} or sequence {link.sequence}")
            if link.to_time <= link.from_time:
                raise ValueError("export_to_time is not after export_from_time")
            declared = _declared_totals(document)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise CorruptBackup(
                f"incremental manifest {where} is malformed: missing or invalid field {exc}"
            ) from exc
        actual = (link.item_count, link.compressed_bytes, link.uncompressed_bytes)
        _check_totals(f"incremental manifest {where}", "records", declared, actual)
        return link


def chain_errors(base_folder: str, base: Manifest, links: list[tuple[str, IncrementalManifest]]) -> list[str]:
    """What breaks the chain base -> links (each a (folder, link) in sequence order); empty when whole.

    Each link must name this base, follow the link before it (`previous`, `sequence`), and start
    exactly where it ends: from-time = the previous to-time, or the base's export time for the first.
    """
    if base.source is None or base.consistent_at is None:
        return [f"{base_folder} is a scan backup, not an export: incremental exports cannot follow it"]
    problems: list[str] = []
    previous_folder, previous_end, expected_sequence = base_folder, base.consistent_at, 1
    for folder, link in links:
        if link.base != base_folder:
            problems.append(f"{folder} names base {link.base!r}, not {base_folder!r}")
        if link.previous != previous_folder or link.sequence != expected_sequence:
            problems.append(
                f"{folder} is link {link.sequence} after {link.previous!r}; expected link "
                f"{expected_sequence} after {previous_folder!r}"
            )
        if link.from_time != previous_end:
            problems.append(
                f"{folder} covers changes from {link.from_time.isoformat()}, but the chain before it ends "
                f"at {previous_end.isoformat()}: the changes in between are in no export"
            )
        previous_folder, previous_end, expected_sequence = folder, link.to_time, expected_sequence + 1
    return problems


def _optional_str(data: dict[str, Any], name: str) -> str | None:
    value = data.get(name)
    return None if value is None else _str(value)


def _optional_time(data: dict[str, Any], name: str) -> str | None:
    value = _optional_str(data, name)
    if value is not None:
        _time(value, name)
    return value


def _document(raw: bytes, where: str, what: str, expected_format: str, version_read: int) -> dict[str, Any]:
    """The JSON object of a manifest of `expected_format` and `version_read`; CorruptBackup otherwise."""
    try:
        document = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CorruptBackup(f"{what} {where} is not valid JSON: {exc}") from exc
    if not isinstance(document, dict) or document.get("format") != expected_format:
        raise CorruptBackup(f"{where} is not a ledger-backup {what}")
    version = document.get("format_version")
    if version != version_read:
        raise CorruptBackup(f"{what} {where} has format_version {version!r}; this tool reads {version_read}")
    return document


Totals = tuple[int, int, int]  # items (or records), compressed bytes, uncompressed bytes


def _declared_totals(document: dict[str, Any]) -> Totals:
    return (
        _count(document["item_count"]),
        _count(document["compressed_bytes"]),
        _count(document["uncompressed_bytes"]),
    )


def _check_totals(what: str, unit: str, declared: Totals, actual: Totals) -> None:
    """The totals a manifest states must be those of its files."""
    if declared != actual:
        raise CorruptBackup(
            f"{what} disagrees with itself: totals ({unit}, compressed, uncompressed) "
            f"{declared} but its files add up to {actual}"
        )


def _str(value: object) -> str:
    if not isinstance(value, str):
        raise TypeError(f"expected a string, got {value!r}")
    return value


def _time(value: str, name: str = "finished_at") -> datetime:
    """An ISO 8601 time; one without a zone is taken as UTC (backups record theirs in UTC)."""
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{name} {value!r} is not an ISO 8601 time") from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _count(value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise TypeError(f"expected a non-negative integer, got {value!r}")
    return value
