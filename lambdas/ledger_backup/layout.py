"""Where a backup's objects live: `<prefix><table>/<UTC timestamp>/{data/*.json.gz, manifest.json}`.

The timestamp sorts lexically in time order, so "newest" is the greatest folder name.
"""

from datetime import UTC, datetime

MANIFEST_NAME = "manifest.json"
# Written into a backup folder before its manifest is deleted by a prune (pruning.py): a folder with
# it and no manifest is a prune that was cut short, finished by the next one, not a running backup.
PRUNING_NAME = "pruning.json"
DATA_FOLDER = "data/"
_TIMESTAMP_FORMAT = "%Y-%m-%dT%H-%M-%S.%fZ"


def normalize_prefix(prefix: str) -> str:
    """A prefix is empty or ends with exactly one slash, so keys join without surprises."""
    prefix = prefix.strip("/")
    return f"{prefix}/" if prefix else ""


def folder_timestamp(moment: datetime) -> str:
    """Milliseconds keep two backups started in the same second apart."""
    return moment.astimezone(UTC).strftime(_TIMESTAMP_FORMAT)[:-4] + "Z"


def table_folder(prefix: str, table_name: str) -> str:
    return f"{normalize_prefix(prefix)}{table_name}/"


def backup_folder(prefix: str, table_name: str, started_at: datetime) -> str:
    return f"{table_folder(prefix, table_name)}{folder_timestamp(started_at)}/"


def manifest_key(folder: str) -> str:
    return f"{folder}{MANIFEST_NAME}"


def data_file_name(segment: int, part: int, writer_id: str) -> str:
    """Relative to the backup folder; one series of parts per scan segment.

    `writer_id` names the invocation that wrote the file, so two deliveries of the same
    continuation never write the same key with different contents.
    """
    return f"{DATA_FOLDER}segment-{segment:04d}-part-{part:04d}-{writer_id}.json.gz"


def folder_of(key: str) -> str:
    """The backup folder a key names: the folder itself, or the folder holding a manifest."""
    if key.endswith(f"/{MANIFEST_NAME}") or key == MANIFEST_NAME:
        return key[: -len(MANIFEST_NAME)]
    return key if key.endswith("/") else f"{key}/"
