"""copy_backup between local folders: what it writes, in which order, and every way a copy can go wrong."""

from pathlib import Path

import pytest

from ledger_backup import layout
from ledger_backup.copying import CHECKING_COPY, COPYING, copy_backup, copy_latest
from ledger_backup.errors import CorruptBackup, InvalidRequest
from ledger_backup.restore.verify import verify_source
from ledger_backup.sources import open_source
from ledger_backup.storage.stores import LocalStore, Upload
from tests.unit.ledger_folders import items, write_backup


class _Recorded:
    def __init__(self) -> None:
        self.stages: list[tuple[str, int | None]] = []
        self.items = 0

    def begin(self, stage: str, total: int | None) -> None:
        self.stages.append((stage, total))

    def advance(self, items: int) -> None:
        self.items += items


class _FlippingUpload:
    """An upload whose store changes one byte of what it is given (a faulty disk or proxy)."""

    def __init__(self, upload: Upload) -> None:
        self._upload = upload
        self._flipped = False

    def write(self, data: bytes) -> int:
        if not self._flipped and data:
            data = bytes([data[0] ^ 1]) + data[1:]
            self._flipped = True
        return self._upload.write(data)

    def flush(self) -> None:
        self._upload.flush()

    def commit(self) -> None:
        self._upload.commit()

    def abort(self) -> None:
        self._upload.abort()


class FlippingStore(LocalStore):
    """A local folder that alters the data files written into it; everything else as LocalStore."""

    def open_upload(self, key: str) -> Upload:
        upload = super().open_upload(key)
        return _FlippingUpload(upload) if "/data/" in key else upload


@pytest.fixture
def source(tmp_path: Path) -> tuple[LocalStore, str]:
    store = LocalStore(tmp_path / "source")
    return store, write_backup(store, [items(0, 30), items(30, 20)])


def test_a_copy_holds_the_same_bytes_and_verifies(source: tuple[LocalStore, str], tmp_path: Path) -> None:
    store, key = source
    destination = LocalStore(tmp_path / "copy")
    progress = _Recorded()
    result = copy_backup(store, key, destination, "offsite/", on_progress=progress)
    assert (result.status, result.files, result.items, result.verified) == ("copied", 2, 50, True)
    copied = f"offsite/ledger/{layout.folder_of(key).split('/')[-2]}/manifest.json"
    assert result.destination == destination.location(copied)
    assert destination.get(copied) == store.get(key), "the manifest's own bytes"
    source_keys = [k.removeprefix("backups/") for k in store.list_keys("backups/")]
    assert [k.removeprefix("offsite/") for k in destination.list_keys("offsite/")] == source_keys
    assert result.bytes == sum((tmp_path / "source" / "backups" / k).stat().st_size for k in source_keys)
    assert progress.stages == [(COPYING, 50), (CHECKING_COPY, 50)]
    assert progress.items == 100
    assert verify_source(open_source(destination, copied), None).ok


def test_the_same_backup_again_is_verified_and_called_identical(
    source: tuple[LocalStore, str], tmp_path: Path
) -> None:
    store, key = source
    destination = LocalStore(tmp_path / "copy")
    copy_backup(store, key, destination, "")
    again = copy_latest(store, "backups/", "ledger", destination, "")
    assert (again.status, again.verified, again.files) == ("identical", True, 2)


def test_a_copy_whose_destination_altered_a_file_writes_no_manifest(
    source: tuple[LocalStore, str], tmp_path: Path
) -> None:
    store, key = source
    destination = FlippingStore(tmp_path / "copy")
    with pytest.raises(
        CorruptBackup, match=r"the copy .* does not match the manifest .* manifest was not written"
    ):
        copy_backup(store, key, destination, "")
    written = list(destination.list_keys(""))
    assert len(written) == 2, "both data files were written (and one read back wrong)"
    assert not [k for k in written if k.endswith(layout.MANIFEST_NAME)], "the copy never looks complete"


def test_a_corrupted_source_file_is_refused_before_its_copy_is_committed(
    source: tuple[LocalStore, str], tmp_path: Path
) -> None:
    store, key = source
    folder = layout.folder_of(key)
    first = next(k for k in store.list_keys(f"{folder}data/"))
    data = bytearray(store.get(first))
    data[len(data) // 2] ^= 0xFF
    store.put(first, bytes(data))
    destination = LocalStore(tmp_path / "copy")
    with pytest.raises(CorruptBackup, match="checksum mismatch: the manifest says"):
        copy_backup(store, key, destination, "")
    assert list(destination.list_keys("")) == [], "nothing committed, no manifest"


def test_a_different_backup_at_the_destination_is_never_overwritten(
    source: tuple[LocalStore, str], tmp_path: Path
) -> None:
    store, key = source
    destination = LocalStore(tmp_path / "copy")
    result = copy_backup(store, key, destination, "")
    copied = result.destination.removeprefix(f"{tmp_path / 'copy'}/")
    before = destination.get(copied)
    destination.put(copied, before.replace(b'"total_segments": 2', b'"total_segments":  2'))
    with pytest.raises(InvalidRequest, match=r"is a different backup than .* never overwrites"):
        copy_backup(store, key, destination, "")


def test_a_manifest_naming_a_file_outside_its_folder_is_refused(
    source: tuple[LocalStore, str], tmp_path: Path
) -> None:
    store, key = source
    raw = store.get(key)
    store.put(key, raw.replace(b'"data/segment-0000', b'"../../segment-0000', 1))
    with pytest.raises(CorruptBackup, match="outside its backup folder"):
        copy_backup(store, key, LocalStore(tmp_path / "copy"), "")
