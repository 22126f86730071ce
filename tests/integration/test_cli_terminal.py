"""The CLI at a terminal: a progress bar on stderr when it is one, `list` as a table; the JSON unchanged."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from devtools.local_aws import LocalAws
from tests.integration.cli_runner import cli, cli_command, cli_env, cli_on_terminal

pytestmark = pytest.mark.integration


def _bar_lines(stderr_text: str, stage: str) -> list[str]:
    return [line for line in stderr_text.splitlines() if line.startswith(stage)]


def test_backup_restore_verify_and_diff_draw_a_bar_on_a_terminal(
    local_services: LocalAws, ledger_table: str, tmp_path: Path
) -> None:
    backup = cli_on_terminal("backup", ledger_table, "--to", str(tmp_path))
    assert backup.returncode == 0, backup.stderr
    assert json.loads(backup.stdout)["item_count"] == 399
    done = _bar_lines(backup.stderr_text, "backing up")
    assert done, backup.stderr
    assert "399/399 items" in done[-1]
    assert "items/s" in done[-1]
    assert "done in" in done[-1]
    folder = str(Path(json.loads(backup.stdout)["location"]).parent)

    restore = cli_on_terminal("restore", folder, "--table", f"{ledger_table}-copy")
    assert restore.returncode == 0, restore.stderr
    assert json.loads(restore.stdout)["items_restored"] == 399
    assert "399/399 items" in _bar_lines(restore.stderr_text, "writing")[-1]

    # Into a table that holds the items: a verify pass first, then the writes, one line each.
    again = cli_on_terminal(
        "restore", folder, "--table", f"{ledger_table}-copy", "--mode", "upsert", "--overwrite"
    )
    assert again.returncode == 0, again.stderr
    assert "399/399 items" in _bar_lines(again.stderr_text, "verifying")[-1]
    assert "399/399 items" in _bar_lines(again.stderr_text, "writing")[-1]

    verify = cli_on_terminal("verify", folder, "--against", ledger_table)
    assert verify.returncode == 0, verify.stderr
    assert json.loads(verify.stdout)["against"]["verdict"] == "match"
    assert "399/399 items" in _bar_lines(verify.stderr_text, "verifying")[-1]
    assert "399/399 items" in _bar_lines(verify.stderr_text, "reading table")[-1]

    diff = cli_on_terminal("diff", folder, "--against", f"{ledger_table}-copy")
    assert diff.returncode == 0, diff.stderr
    assert json.loads(diff.stdout)["changes"]["same"] == 399
    assert "399/399 items" in _bar_lines(diff.stderr_text, "verifying")[-1]
    assert "399 items" in _bar_lines(diff.stderr_text, "reading table")[-1]  # read first, no total known


def test_no_bar_with_quiet_or_when_stderr_is_not_a_terminal(
    local_services: LocalAws, ledger_table: str, tmp_path: Path
) -> None:
    folder = str(Path(cli("backup", ledger_table, "--to", str(tmp_path))["location"]).parent)
    piped = subprocess.run(  # noqa: S603 - our own CLI
        cli_command("verify", folder), capture_output=True, text=True, env=cli_env(), check=True
    )
    assert piped.stderr == ""
    quiet = cli_on_terminal("--quiet", "verify", folder)
    assert (quiet.returncode, quiet.stderr) == (0, ""), quiet.stderr
    assert json.loads(quiet.stdout) == json.loads(piped.stdout)
    # stdout on the terminal, stderr on a pipe: the JSON as ever and no bar anywhere.
    both = cli_on_terminal("verify", folder, stdout_tty=True, stderr_tty=False)
    assert (both.returncode, both.stderr) == (0, "")
    assert json.loads(both.stdout) == json.loads(piped.stdout)


def test_list_is_a_table_on_a_terminal_and_json_otherwise(
    local_services: LocalAws, ledger_table: str, tmp_path: Path
) -> None:
    cli("backup", ledger_table, "--to", str(tmp_path))
    (tmp_path / ledger_table / "2020-01-01T00-00-00.000Z").mkdir()
    (tmp_path / ledger_table / "2020-01-01T00-00-00.000Z" / "manifest.json").write_text("{")
    piped = cli("list", ledger_table, "--in", str(tmp_path))
    assert [row["status"] for row in piped] == ["complete", "unreadable"]

    table = cli_on_terminal("list", ledger_table, "--in", str(tmp_path), stdout_tty=True, stderr_tty=False)
    assert table.returncode == 0, table.stderr
    lines = table.stdout_text.splitlines()
    assert lines[0].split() == ["finished", "items", "size", "files", "label", "backup"]
    assert lines[1].split()[2:4] == ["UTC", "399"]
    assert any(line.lstrip().startswith("unreadable") for line in lines)

    forced = cli_on_terminal(
        "list", ledger_table, "--in", str(tmp_path), "--json", stdout_tty=True, stderr_tty=False
    )
    assert json.loads(forced.stdout) == piped


def test_the_functions_never_import_rich() -> None:
    """rich is the CLI's alone: the Lambda bundle does not ship it, so no handler may pull it in."""
    probe = (
        "import sys, backup_handler, restore_handler; print(sorted(m for m in sys.modules if m == 'rich'))"
    )
    done = subprocess.run(  # noqa: S603 - a fixed probe
        [sys.executable, "-c", probe], capture_output=True, text=True, env=cli_env(), check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
