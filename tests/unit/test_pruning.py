"""Pruning in a local folder: manifest first, then the rest; a prune cut short is finished by the next."""

import json
from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest

from devtools.made_up_backups import daily_backups, utc, write_made_up_backup
from ledger_backup import layout
from ledger_backup.catalog import list_backups
from ledger_backup.cli import main
from ledger_backup.pruning import prune
from ledger_backup.retention import RetentionPolicy
from ledger_backup.storage.stores import LocalStore

PREFIX = "backups/"
TABLE = "ledger"
NOW = utc("2026-12-04T06:00")


class OrderedStore(LocalStore):
    """A local store that remembers each delete call, and can fail the data deletes of one folder."""

    def __init__(self, root: Path, fail_data_of: str | None = None) -> None:
        super().__init__(root)
        self.deletes: list[list[str]] = []
        self.fail_data_of = fail_data_of

    def delete(self, keys: Iterable[str]) -> None:
        keys = list(keys)
        self.deletes.append(keys)
        if self.fail_data_of and any(k.startswith(self.fail_data_of + layout.DATA_FOLDER) for k in keys):
            raise OSError("the disk said no")
        super().delete(keys)


def test_prune_deletes_the_manifest_before_anything_else_and_leaves_the_kept(tmp_path: Path) -> None:
    store = OrderedStore(tmp_path)
    folders = daily_backups(store, PREFIX, TABLE, utc("2026-12-04T03:00"), days=5)
    result = prune(store, PREFIX, TABLE, RetentionPolicy(keep_last=3), NOW)
    assert result.deleted == folders[:2][::-1]  # newest first, like the plan
    assert [b.folder for b in list_backups(store, PREFIX, TABLE)] == folders[2:][::-1]
    for folder in folders[:2]:
        assert list(store.list_keys(folder)) == []
        calls = [c for c in store.deletes if any(k.startswith(folder) for k in c)]
        assert calls[0] == [layout.manifest_key(folder)]  # alone, first
        assert calls[-1] == [folder + layout.PRUNING_NAME]  # the marker goes last


def test_a_dry_run_deletes_nothing_and_says_what_would_go(tmp_path: Path) -> None:
    store = OrderedStore(tmp_path)
    folders = daily_backups(store, PREFIX, TABLE, utc("2026-12-04T03:00"), days=5)
    result = prune(store, PREFIX, TABLE, RetentionPolicy(keep_last=3), NOW, dry_run=True)
    assert store.deletes == []
    assert len(list_backups(store, PREFIX, TABLE)) == 5
    answer = result.to_json(store)
    assert answer["deleted"] == []
    assert [r["outcome"] for r in answer["backups"]] == ["kept"] * 3 + ["would delete"] * 2
    assert answer["backups"][-1]["backup"] == store.location(folders[0])


def test_a_prune_cut_short_after_the_manifest_is_finished_by_the_next(tmp_path: Path) -> None:
    store = OrderedStore(tmp_path)
    folders = daily_backups(store, PREFIX, TABLE, utc("2026-12-04T03:00"), days=3)
    store.fail_data_of = folders[0]
    first = prune(store, PREFIX, TABLE, RetentionPolicy(keep_last=2), NOW)
    assert first.deleted == []
    [failure] = first.failed
    assert failure.folder == folders[0]
    assert "the disk said no" in failure.problem
    # Half deleted: no manifest (never listed nor restored), the marker says why.
    assert not store.exists(layout.manifest_key(folders[0]))
    assert store.exists(folders[0] + layout.PRUNING_NAME)
    assert json.loads(store.get(folders[0] + layout.PRUNING_NAME))["reasons"][0].startswith(
        "outside the policy"
    )

    store.fail_data_of = None
    second = prune(store, PREFIX, TABLE, RetentionPolicy(keep_last=2), NOW)
    [verdict] = [v for v in second.plan.verdicts if v.folder == folders[0]]
    assert verdict.reasons == ("an interrupted prune: its manifest is gone",)
    assert second.deleted == [folders[0]]
    assert list(store.list_keys(folders[0])) == []


def test_a_folder_without_manifest_or_marker_is_left_alone(tmp_path: Path) -> None:
    store = OrderedStore(tmp_path)
    running = write_made_up_backup(store, PREFIX, TABLE, utc("2026-01-01T03:00"), complete=False)
    daily_backups(store, PREFIX, TABLE, utc("2026-12-04T03:00"), days=2)
    result = prune(store, PREFIX, TABLE, RetentionPolicy(keep_last=1), NOW)
    assert len(result.deleted) == 1
    assert result.to_json(store)["never_pruned"] == [store.location(running)]
    assert list(store.list_keys(running))  # untouched


def test_cli_prune_dry_run_prints_every_backup_with_its_reasons(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = LocalStore(tmp_path)
    daily_backups(store, PREFIX, TABLE, utc("2026-12-04T03:00"), days=60)
    status = main(
        [
            "prune",
            str(tmp_path / "backups"),
            "--table",
            TABLE,
            "--keep-last",
            "7",
            "--keep-daily",
            "14",
            "--keep-weekly",
            "8",
            "--keep-monthly",
            "12",
            "--dry-run",
            "--now",
            "2026-12-04T06:00:00Z",
            "--json",
        ]
    )
    assert status == 0
    answer = json.loads(capsys.readouterr().out)
    assert answer["dry_run"] is True
    assert answer["now"] == "2026-12-04T06:00:00+00:00"
    assert answer["policy"] == {"keep_last": 7, "keep_daily": 14, "keep_weekly": 8, "keep_monthly": 12}
    assert answer["kept"] == 22
    assert [r["action"] for r in answer["backups"]].count("prune") == 38
    assert answer["backups"][0]["reasons"] == ["newest 7", "daily: 2026-12-04"]
    assert len(list_backups(store, PREFIX, TABLE)) == 60


def test_cli_prune_deletes_and_a_bad_policy_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = LocalStore(tmp_path)
    daily_backups(store, PREFIX, TABLE, utc("2026-12-04T03:00"), days=4)
    assert main(["prune", str(tmp_path / "backups"), "--table", TABLE, "--keep-last", "2", "--json"]) == 0
    assert len(json.loads(capsys.readouterr().out)["deleted"]) == 2
    assert len(list_backups(store, PREFIX, TABLE)) == 2
    with pytest.raises(SystemExit) as exit_info:
        main(["prune", str(tmp_path / "backups"), "--table", TABLE, "--keep-last", "0"])
    assert exit_info.value.code == 2
    assert "--keep-last: must be a whole number from 1" in capsys.readouterr().err


class LateListingStore(OrderedStore):
    """The first listing misses the manifests (written just after it); later ones see them."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.listings = 0

    def list_keys(self, prefix: str) -> Iterator[str]:
        self.listings += 1
        for key in super().list_keys(prefix):
            if self.listings > 1 or not key.endswith(layout.MANIFEST_NAME):
                yield key


def test_a_manifest_the_listing_missed_is_still_deleted_first(tmp_path: Path) -> None:
    store = LateListingStore(tmp_path)
    folders = daily_backups(store, PREFIX, TABLE, utc("2026-12-04T03:00"), days=2)
    result = prune(store, PREFIX, TABLE, RetentionPolicy(keep_last=1), NOW)
    assert result.deleted == [folders[0]]
    calls = [c for c in store.deletes if any(k.startswith(folders[0]) for k in c)]
    assert calls[0] == [layout.manifest_key(folders[0])]
    assert list(LocalStore(tmp_path).list_keys(folders[0])) == []
