"""A backup's progress between Lambda invocations: where each scan segment stands and what it wrote.

Checkpoints are immutable objects named by the invocation that wrote them, so an
invocation that Lambda delivers twice forks the chain instead of corrupting it: each
fork lists only its own files, and only the first fork to finish writes the manifest.
"""

import json
from dataclasses import dataclass, field, replace
from typing import Any

from ledger_backup.codec import Item, encode_item, loads_items_json
from ledger_backup.errors import CorruptBackup
from ledger_backup.manifest import DataFile
from ledger_backup.schema import TableSchema

CHECKPOINT_FORMAT = "ledger-backup-checkpoint"
PROGRESS_FOLDER = "progress/"


@dataclass(frozen=True)
class SegmentProgress:
    """One scan segment: finished, or the key to resume after, plus the files it wrote so far."""

    done: bool = False
    start_key: Item | None = None
    files: tuple[DataFile, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "done": self.done,
            # DynamoDB JSON text, so binary keys survive (B as base64).
            "start_key": encode_item(self.start_key) if self.start_key is not None else None,
            "files": [f.to_json() for f in self.files],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "SegmentProgress":
        start_key = data["start_key"]
        return cls(
            done=bool(data["done"]),
            start_key=loads_items_json(start_key) if start_key is not None else None,
            files=tuple(DataFile.from_json(f) for f in data["files"]),
        )


@dataclass(frozen=True)
class BackupProgress:
    """Everything a later invocation needs to carry on with the same backup folder."""

    table_name: str
    table_arn: str
    schema: TableSchema
    folder: str
    started_at: str
    page_size: int
    invocations: int
    segments: tuple[SegmentProgress, ...] = field(default_factory=tuple)
    label: str | None = None  # carried to the manifest (manifest.Manifest.label)
    retain_until: str | None = None  # fixed when the backup starts, so every invocation agrees

    @property
    def total_segments(self) -> int:
        return len(self.segments)

    @property
    def finished(self) -> bool:
        return all(s.done for s in self.segments)

    @property
    def files(self) -> list[DataFile]:
        return sorted((f for s in self.segments for f in s.files), key=lambda f: f.key)

    @property
    def item_count(self) -> int:
        return sum(f.item_count for f in self.files)

    def with_segments(self, segments: list[SegmentProgress]) -> "BackupProgress":
        return replace(self, segments=tuple(segments), invocations=self.invocations + 1)

    def checkpoint_key(self, invocation_id: str) -> str:
        """Unique per writer: a replayed invocation never overwrites another's checkpoint."""
        return f"{self.folder}{PROGRESS_FOLDER}checkpoint-{self.invocations:04d}-{invocation_id}.json"

    def to_json_bytes(self) -> bytes:
        document = {
            "format": CHECKPOINT_FORMAT,
            "table": {"name": self.table_name, "arn": self.table_arn},
            "schema": self.schema.to_json(),
            "folder": self.folder,
            "started_at": self.started_at,
            "page_size": self.page_size,
            "invocations": self.invocations,
            "segments": [s.to_json() for s in self.segments],
        }
        if self.label is not None:
            document["label"] = self.label
        if self.retain_until is not None:
            document["retain_until"] = self.retain_until
        return json.dumps(document, ensure_ascii=False).encode("utf-8")

    @classmethod
    def from_json_bytes(cls, raw: bytes, where: str) -> "BackupProgress":
        try:
            document = json.loads(raw)
            if document.get("format") != CHECKPOINT_FORMAT:
                raise ValueError("not a ledger-backup checkpoint")
            return cls(
                table_name=document["table"]["name"],
                table_arn=document["table"]["arn"],
                schema=TableSchema.from_json(document["schema"]),
                folder=document["folder"],
                started_at=document["started_at"],
                page_size=int(document["page_size"]),
                invocations=int(document["invocations"]),
                segments=tuple(SegmentProgress.from_json(s) for s in document["segments"]),
                label=_optional_str(document.get("label")),
                retain_until=_optional_str(document.get("retain_until")),
            )
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise CorruptBackup(f"checkpoint {where} is unreadable: {exc}") from exc


def _optional_str(value: object) -> str | None:
    """An optional text field: absent in checkpoints written before labels existed."""
    if value is None or isinstance(value, str):
        return value
    raise TypeError(f"expected a string, got {value!r}")
