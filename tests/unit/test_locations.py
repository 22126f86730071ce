"""What a user types as a location is checked before any work: a clear refusal beats a half-made folder."""

from pathlib import Path

import pytest

from ledger_backup import layout
from ledger_backup.errors import InvalidRequest
from ledger_backup.storage.locations import backup_source, file_destination, folder_location, parse_location
from ledger_backup.storage.stores import LocalStore, S3Store


def test_s3_location_splits_bucket_and_key() -> None:
    location = parse_location("s3://jsmith-backups/backups/ledger/")
    assert isinstance(location.store, S3Store)
    assert (location.store.bucket, location.key) == ("jsmith-backups", "backups/ledger/")


@pytest.mark.parametrize("text", ["s3://", "s3:///backups/x", "s3:////"])
def test_s3_location_needs_a_bucket(text: str) -> None:
    with pytest.raises(InvalidRequest, match="names no bucket: give s3://BUCKET"):
        parse_location(text)


def test_s3_location_bucket_name_is_checked() -> None:
    with pytest.raises(InvalidRequest, match="'My_Bucket' is not an S3 bucket name"):
        parse_location("s3://My_Bucket/x")


def test_empty_location_is_refused() -> None:
    for check in (parse_location, backup_source, file_destination):
        with pytest.raises(InvalidRequest, match="empty"):
            check("")
    with pytest.raises(InvalidRequest, match="empty"):
        folder_location("", must_exist=False)


def test_a_folder_to_read_must_exist(tmp_path: Path) -> None:
    with pytest.raises(InvalidRequest, match=r"no folder .*check the path"):
        folder_location(str(tmp_path / "typo"), must_exist=True)
    created = folder_location(str(tmp_path / "new"), must_exist=False).store
    assert isinstance(created, LocalStore)
    assert created.root == tmp_path / "new"


def test_a_file_is_not_a_folder(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("x")
    for must_exist in (True, False):
        with pytest.raises(InvalidRequest, match="is a file, not a folder"):
            folder_location(str(tmp_path / "f"), must_exist=must_exist)
    with pytest.raises(InvalidRequest, match=r"cannot be created: '.*/f' is a file"):
        folder_location(str(tmp_path / "f" / "deeper" / "still"), must_exist=False)
    with pytest.raises(InvalidRequest, match="cannot be created"):
        file_destination(str(tmp_path / "f" / "out.json.gz"))


def test_a_folder_is_not_a_file(tmp_path: Path) -> None:
    with pytest.raises(InvalidRequest, match="is a folder: give a file name"):
        file_destination(str(tmp_path))
    with pytest.raises(InvalidRequest, match="names no object"):
        file_destination("s3://jsmith-backups/data/")
    written = file_destination(str(tmp_path / "new" / "out.json"))
    assert isinstance(written.store, LocalStore)
    assert (written.store.root, written.key) == (tmp_path / "new", "out.json")


def test_a_bucket_alone_is_not_a_backup() -> None:
    with pytest.raises(InvalidRequest, match=r"names a bucket, not a backup.*--latest-of TABLE"):
        backup_source("s3://jsmith-backups")


def test_local_backup_folder_reads_its_manifest(tmp_path: Path) -> None:
    assert backup_source(str(tmp_path)).key == layout.MANIFEST_NAME
