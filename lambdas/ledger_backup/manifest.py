"""The manifest: the last object a backup writes, and the only proof that the backup is whole.

A folder whose manifest is missing never finished; a manifest that does not parse, or
whose numbers disagree with its files, marks a corrupt backup. Both are refused.
"""

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ledger_backup.errors import CorruptBackup
from ledger_backup.schema import TableSchema

FORMAT = "ledger-backup"
FORMAT_VERSION = 1


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
class Manifest:
    """Everything needed to restore and to prove a backup complete."""

    table_name: str
    table_arn: str
    schema: TableSchema
    started_at: str
    finished_at: str
    total_segments: int
    files: list[DataFile] = field(default_factory=list)

    @property
    def item_count(self) -> int:
        return sum(f.item_count for f in self.files)

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
        return (json.dumps(document, indent=2, ensure_ascii=False) + "\n").encode("utf-8")

    @classmethod
    def from_json_bytes(cls, raw: bytes, where: str) -> "Manifest":
        """Parse and cross-check a manifest; CorruptBackup names `where` and the problem."""
        try:
            document = json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise CorruptBackup(f"manifest {where} is not valid JSON: {exc}") from exc
        if not isinstance(document, dict) or document.get("format") != FORMAT:
            raise CorruptBackup(f"{where} is not a ledger-backup manifest")
        version = document.get("format_version")
        if version != FORMAT_VERSION:
            raise CorruptBackup(
                f"manifest {where} has format_version {version!r}; this tool reads {FORMAT_VERSION}"
            )
        try:
            manifest = cls(
                table_name=_str(document["table"]["name"]),
                table_arn=_str(document["table"].get("arn", "")),
                schema=TableSchema.from_json(document["schema"]),
                started_at=_str(document["started_at"]),
                finished_at=_str(document["finished_at"]),
                total_segments=_count(document["total_segments"]),
                files=[DataFile.from_json(f) for f in document["files"]],
            )
            _time(manifest.finished_at)
            declared = (
                _count(document["item_count"]),
                _count(document["compressed_bytes"]),
                _count(document["uncompressed_bytes"]),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise CorruptBackup(f"manifest {where} is malformed: missing or invalid field {exc}") from exc
        actual = (manifest.item_count, manifest.compressed_bytes, manifest.uncompressed_bytes)
        if declared != actual:
            raise CorruptBackup(
                f"manifest {where} disagrees with itself: totals (items, compressed, uncompressed) "
                f"{declared} but its files add up to {actual}"
            )
        return manifest


def _str(value: object) -> str:
    if not isinstance(value, str):
        raise TypeError(f"expected a string, got {value!r}")
    return value


def _time(value: str) -> datetime:
    """An ISO 8601 time; one without a zone is taken as UTC (backups record theirs in UTC)."""
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"finished_at {value!r} is not an ISO 8601 time") from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _count(value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise TypeError(f"expected a non-negative integer, got {value!r}")
    return value
