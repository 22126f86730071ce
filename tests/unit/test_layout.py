"""Backup keys: one folder per backup, sortable by time."""

from datetime import UTC, datetime, timedelta

from ledger_backup import layout


def test_backup_folder_layout() -> None:
    moment = datetime(2026, 11, 25, 3, 0, 5, 123456, tzinfo=UTC)
    folder = layout.backup_folder("backups", "ledger", moment)
    assert folder == "backups/ledger/2026-11-25T03-00-05.123Z/"
    assert layout.manifest_key(folder) == f"{folder}manifest.json"
    assert layout.data_file_name(3, 12, "a1b2") == "data/segment-0003-part-0012-a1b2.json.gz"


def test_folder_names_sort_in_time_order() -> None:
    start = datetime(2026, 1, 9, 23, 59, 59, 999000, tzinfo=UTC)
    moments = [start + timedelta(milliseconds=n) for n in (0, 1, 1000, 86_400_000)]
    names = [layout.folder_timestamp(m) for m in moments]
    assert names == sorted(names)
    assert len(set(names)) == len(names)


def test_prefix_normalisation() -> None:
    assert layout.normalize_prefix("") == ""
    assert layout.normalize_prefix("/backups//") == "backups/"
    assert layout.table_folder("a/b", "t") == "a/b/t/"


def test_folder_of_accepts_manifest_key_or_folder() -> None:
    assert layout.folder_of("backups/t/x/manifest.json") == "backups/t/x/"
    assert layout.folder_of("backups/t/x/") == "backups/t/x/"
    assert layout.folder_of("backups/t/x") == "backups/t/x/"
    assert layout.folder_of("manifest.json") == ""
