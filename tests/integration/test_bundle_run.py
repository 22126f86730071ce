"""The Lambda asset, built by infra/bundling.py for this machine, runs both handlers from its folder alone.

The bundle is built by the same code as the deployed one, with this machine's Python and platform in
place of Lambda's 3.13 / aarch64 (which cannot run here), then the handlers run in the base interpreter
(not the venv's) as ``python -I -S``: -I drops PYTHON* variables, the user site and the script's
directory; -S drops site-packages too. -I alone is not enough: the base interpreter's site-packages
(pyenv's on this machine; /usr/bin/python3 would add Debian's dist-packages) holds boto3, botocore,
orjson, pydantic and aws_xray_sdk for the dev tools, so a pin missing from lambdas/requirements.txt
would be found there and go unnoticed. With -S, sys.path is the stdlib plus the bundle folder (as on
Lambda, the folder is not a site directory, so no .pth file in it runs), and the first test checks
that the stdlib alone finds none of the dependencies.
"""

import os

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

import json  # after the variable above: importing infra.bundling starts jsii
import platform
import shutil
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from devtools.function_env import function_environ
from devtools.local_aws import REPO_ROOT, LocalAws
from devtools.sample_events import scheduled_event
from devtools.tables import scan_all
from infra.bundling import EXCLUDED_PATTERNS, bundle_lambda_sources
from tests.integration.conftest import LEDGER_BOOKS

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(sys.platform != "linux", reason="bundles manylinux wheels for this machine"),
]

LAMBDAS = REPO_ROOT / "lambdas"
RUNNER = Path(__file__).with_name("bundle_runner.py")
# The interpreter behind the venv, so nothing the venv installed can be reached.
BASE_PYTHON: str = getattr(sys, "_base_executable", sys.executable)
ISOLATED = ("-I", "-S")
HOST_PYTHON_VERSION = f"{sys.version_info.major}.{sys.version_info.minor}"
HOST_PLATFORMS = (f"manylinux2014_{platform.machine()}", f"manylinux_2_28_{platform.machine()}")
# Pins of lambdas/requirements.txt and what they bring; each must come from the bundle folder.
DEPENDENCIES = (
    "boto3",
    "botocore",
    "aws_lambda_powertools",
    "ijson",
    "orjson",
    "pydantic",
    "pydantic_core",
)

PROBE = """
import importlib.util, json, sys
names = json.loads(sys.argv[1])
found = {name: getattr(importlib.util.find_spec(name), "origin", None) for name in names}
print(json.dumps({"sys_path": sys.path, "found": found}))
"""


def _bundle_for_host(source_dir: Path, output_dir: Path) -> Path:
    bundle_lambda_sources(
        source_dir, output_dir, python_version=HOST_PYTHON_VERSION, platforms=HOST_PLATFORMS
    )
    return output_dir


def _run_handlers(
    bundle: Path, services: LocalAws, table: str, bucket: str, target: str, workdir: Path
) -> subprocess.CompletedProcess[str]:
    """The runner, copied beside nothing of the repository, with only the functions' environment."""
    runner = workdir / "run_handlers.py"
    shutil.copyfile(RUNNER, runner)
    request = {"backup_event": scheduled_event(), "target_table": target}
    return subprocess.run(  # noqa: S603 - fixed argv
        [BASE_PYTHON, *ISOLATED, str(runner), str(bundle), json.dumps(request)],
        env={**services.environ(), **function_environ(table, bucket)},
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


@pytest.fixture(scope="module")
def stdlib_only() -> dict[str, Any]:
    """sys.path of the isolated base interpreter, and where it finds each dependency without a bundle."""
    result = subprocess.run(  # noqa: S603 - fixed argv
        [BASE_PYTHON, *ISOLATED, "-c", PROBE, json.dumps(DEPENDENCIES)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    probe: dict[str, Any] = json.loads(result.stdout)
    return probe


@pytest.fixture(scope="module")
def host_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """lambdas/ bundled for this machine, as infra/bundling.py bundles it for Lambda."""
    return _bundle_for_host(LAMBDAS, tmp_path_factory.mktemp("bundle").resolve() / "asset")


def test_isolated_base_interpreter_finds_no_dependency_outside_a_bundle(stdlib_only: dict[str, Any]) -> None:
    assert stdlib_only["found"] == dict.fromkeys(DEPENDENCIES)
    assert stdlib_only["sys_path"]
    assert not [p for p in stdlib_only["sys_path"] if "site-packages" in p or "dist-packages" in p]


def test_handlers_back_up_and_restore_from_the_bundle_folder_alone(
    host_bundle: Path,
    stdlib_only: dict[str, Any],
    local_services: LocalAws,
    dynamodb: "DynamoDBClient",
    ledger_table: str,
    bucket: str,
    tmp_path: Path,
) -> None:
    target = f"{ledger_table}-from-bundle"
    result = _run_handlers(host_bundle, local_services, ledger_table, bucket, target, tmp_path)
    assert result.returncode == 0, result.stderr[-4000:]
    report = json.loads(result.stdout)

    backup, checked, restored = report["backup"], report["dry_run"], report["restore"]
    assert (backup["status"], backup["table"], backup["bucket"], backup["item_count"]) == (
        "complete",
        ledger_table,
        bucket,
        LEDGER_BOOKS,
    )
    assert (checked["status"], checked["item_count"], checked["problems"]) == ("verified", LEDGER_BOOKS, [])
    assert (restored["status"], restored["target_table"], restored["items_restored"]) == (
        "complete",
        target,
        LEDGER_BOOKS,
    )
    assert restored["table_created"] is True
    assert scan_all(dynamodb, target, "book_id") == scan_all(dynamodb, ledger_table, "book_id")

    # Only the bundle folder and the stdlib were importable, and every dependency came from the folder.
    assert report["sys_path"] == [str(host_bundle), *stdlib_only["sys_path"]]
    assert report["outside_sys_path"] == []
    for name in (*DEPENDENCIES, "ledger_backup", "runtime", "backup_handler", "restore_handler"):
        file = report["files"][name]
        assert file is not None, f"{name} was never imported"
        assert Path(file).is_relative_to(host_bundle), (name, file)


def test_a_dependency_missing_from_requirements_fails_the_handler_run(
    local_services: LocalAws, bucket: str, unique_name: str, tmp_path: Path
) -> None:
    source = tmp_path / "lambdas"
    shutil.copytree(LAMBDAS, source, ignore=shutil.ignore_patterns(*EXCLUDED_PATTERNS))
    requirements = (source / "requirements.txt").read_text().splitlines()
    kept = [line for line in requirements if not line.startswith("ijson==")]
    assert len(kept) == len(requirements) - 1, "lambdas/requirements.txt no longer pins ijson"
    (source / "requirements.txt").write_text("\n".join(kept) + "\n")
    bundle = _bundle_for_host(source, tmp_path / "asset")
    assert not (bundle / "ijson").exists()

    table = f"never-created-{unique_name}"  # the run must stop at the import, before any call
    result = _run_handlers(bundle, local_services, table, bucket, f"{table}-restored", tmp_path)
    assert result.returncode != 0
    assert "ModuleNotFoundError: No module named 'ijson'" in result.stderr, result.stderr[-4000:]
    assert result.stdout == ""
