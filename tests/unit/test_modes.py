"""Restore modes: the names there are, and which may write into a table that holds items."""

import pytest

from ledger_backup.errors import InvalidRequest
from ledger_backup.restore.modes import MODES, check_mode, writes_over_items


def test_the_modes_and_no_mode_are_accepted() -> None:
    assert [check_mode(mode) for mode in ("", *MODES)] == ["", "upsert", "missing", "replace"]


def test_an_unknown_mode_names_the_ones_there_are() -> None:
    with pytest.raises(InvalidRequest, match="mode must be one of upsert, missing, replace, not 'merge'"):
        check_mode("merge")


@pytest.mark.parametrize(
    ("mode", "overwrite", "allowed"),
    [
        ("", False, False),
        ("", True, True),
        ("upsert", False, False),
        ("upsert", True, True),
        ("replace", False, False),
        ("replace", True, True),
        ("missing", False, True),  # never replaces an item, so a non-empty table is fine
        ("missing", True, True),
    ],
)
def test_only_overwrite_or_missing_may_write_into_a_table_with_items(
    mode: str, overwrite: bool, allowed: bool
) -> None:
    assert writes_over_items(mode, overwrite) is allowed
