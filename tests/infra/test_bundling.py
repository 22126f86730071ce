"""The one test that bundles for real: a dev synth with local (Docker-free) bundling, then the asset."""

from pathlib import Path

import pytest

from infra.bundling import EXCLUDED_PATTERNS, WHEEL_PLATFORMS, pip_install_command
from infra.config import EnvironmentConfig
from tests.infra.conftest import Synthesized, cdk_json_context, synthesize

EM_AARCH64 = 183  # ELF e_machine of 64-bit ARM


@pytest.fixture(scope="module")
def bundled(
    tmp_path_factory: pytest.TempPathFactory, cdk_configs: dict[str, EnvironmentConfig]
) -> Synthesized:
    """The dev stack synthesized with bundling enabled (the default when the context key is absent)."""
    context = cdk_json_context()
    assert "aws:cdk:bundling-stacks" not in context
    return synthesize(tmp_path_factory.mktemp("cdk.out.bundled"), {"dev": cdk_configs["dev"]}, context)


def _asset_dir(synthesized: Synthesized) -> Path:
    """The staged asset both functions deploy (same hash: bundled once)."""
    template = synthesized.template_json("dev")
    keys = {
        r["Properties"]["Code"]["S3Key"]
        for r in template["Resources"].values()
        if r["Type"] == "AWS::Lambda::Function"
    }
    assert len(keys) == 1, keys
    asset = synthesized.outdir / f"asset.{keys.pop().removesuffix('.zip')}"
    assert asset.is_dir()
    return asset


def test_bundle_holds_handlers_core_package_and_aarch64_dependencies(bundled: Synthesized) -> None:
    assert bundled.validation_error is None, bundled.validation_error
    asset = _asset_dir(bundled)
    lambdas = Path(__file__).resolve().parents[2] / "lambdas"

    for handler in ("backup_handler.py", "restore_handler.py"):
        assert (asset / handler).read_bytes() == (lambdas / handler).read_bytes()
    assert (asset / "ledger_backup" / "__init__.py").is_file()
    shipped_sources = {
        p.relative_to(lambdas)
        for p in lambdas.rglob("*.py")
        if not any(part in ("tests", "__pycache__") or part.startswith("test_") for part in p.parts)
    }
    assert shipped_sources
    assert all((asset / p).is_file() for p in shipped_sources)

    # Dependencies from lambdas/requirements.txt, as Linux arm64 CPython 3.13 wheels.
    for package in ("aws_lambda_powertools", "pydantic", "ijson", "boto3", "botocore", "aws_xray_sdk"):
        assert (asset / package).is_dir(), package
    [extension] = (asset / "pydantic_core").glob("_pydantic_core.cpython-313-aarch64-linux-gnu.so")
    header = extension.read_bytes()[:20]
    assert header[:4] == b"\x7fELF"
    assert int.from_bytes(header[18:20], "little") == EM_AARCH64

    # Nothing from the developer's machine: no caches, no byte code, no tests.
    assert not list(asset.rglob("__pycache__"))
    assert not list(asset.rglob("*.pyc"))
    assert not (asset / "tests").exists()


def test_pip_command_targets_lambda_platform_without_building() -> None:
    command = pip_install_command(Path("lambdas/requirements.txt"), Path("/out"), python="python3")
    assert command[:4] == ["python3", "-m", "pip", "install"]
    assert "--only-binary=:all:" in command
    assert command[command.index("--python-version") + 1] == "3.13"
    assert command[command.index("--implementation") + 1] == "cp"
    platforms = [command[i + 1] for i, arg in enumerate(command) if arg == "--platform"]
    assert platforms == list(WHEEL_PLATFORMS)
    assert "manylinux2014_aarch64" in platforms
    assert command[-4:] == ["--target", "/out", "-r", "lambdas/requirements.txt"]
    assert "__pycache__" in EXCLUDED_PATTERNS
