"""Lambda asset bundling that runs on the host, so `cdk synth` needs no Docker (here and in CI).

The bundle is what Lambda (Python 3.13, arm64) imports: the runtime dependencies from
``lambdas/requirements.txt`` installed as manylinux aarch64 wheels, plus the python sources of ``lambdas/``.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import jsii
from aws_cdk import BundlingOptions, ILocalBundling
from aws_cdk import aws_lambda as lambda_

LAMBDA_RUNTIME = lambda_.Runtime.PYTHON_3_13
LAMBDA_ARCHITECTURE = lambda_.Architecture.ARM_64
PYTHON_VERSION = "3.13"
# Lambda's Python 3.13 runs on Amazon Linux 2023 (glibc 2.34): manylinux2014 (glibc 2.17) and
# manylinux_2_28 wheels both load there.
WHEEL_PLATFORMS = ("manylinux2014_aarch64", "manylinux_2_28_aarch64")

# Never shipped: caches, tests and editor/tool litter. They are excluded from the asset hash too,
# so running the unit tests does not invalidate the bundle.
EXCLUDED_PATTERNS = (
    "__pycache__",
    "*.pyc",
    "*.pyo",
    "*.egg-info",  # `pip install -e .` (make venv) leaves it beside the package
    "tests",
    "test_*.py",
    "*_test.py",
    ".pytest_cache",
    ".mypy_cache",
    ".ruff_cache",
    ".hypothesis",
    ".DS_Store",
)


class BundlingError(RuntimeError):
    """pip could not produce the Lambda bundle (bad pin, no aarch64 wheel, no network)."""


def pip_install_command(
    requirements: Path,
    output_dir: Path,
    python: str = sys.executable,
    *,
    python_version: str = PYTHON_VERSION,
    platforms: Sequence[str] = WHEEL_PLATFORMS,
) -> list[str]:
    """The pip command that installs the target platform's wheels without building anything locally.

    --only-binary keeps a missing aarch64 wheel an error instead of compiling an x86 extension.
    The target defaults to Lambda's; a test passes the host's Python and platform to build the same
    bundle the same way, but one this machine can import and run.
    """
    command = [python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-input"]
    command += ["--no-compile", "--only-binary=:all:", "--implementation", "cp"]
    command += ["--python-version", python_version]
    for platform in platforms:
        command += ["--platform", platform]
    command += ["--target", str(output_dir), "-r", str(requirements)]
    return command


def bundle_lambda_sources(
    source_dir: Path,
    output_dir: Path,
    *,
    python_version: str = PYTHON_VERSION,
    platforms: Sequence[str] = WHEEL_PLATFORMS,
) -> None:
    """Install the pinned dependencies, then copy the handlers and the core package over them.

    `python_version` and `platforms` default to Lambda's; tests/integration/test_bundle_run.py
    bundles for the host with them, then runs the handlers from the folder alone.
    """
    requirements = source_dir / "requirements.txt"
    if not requirements.is_file():
        raise BundlingError(f"{requirements} is missing: the Lambda's runtime dependencies live there")
    output_dir.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(  # noqa: S603 - fixed argv, no shell
        pip_install_command(requirements, output_dir, python_version=python_version, platforms=platforms),
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise BundlingError(
            f"pip install for the Lambda bundle failed (exit {result.returncode}):\n{result.stderr[-4000:]}"
        )
    shutil.copytree(
        source_dir,
        output_dir,
        ignore=shutil.ignore_patterns(*EXCLUDED_PATTERNS),
        dirs_exist_ok=True,
    )


@jsii.implements(ILocalBundling)
class LocalPythonBundler:
    """CDK local bundling hook: CDK calls ``try_bundle`` before it would fall back to Docker."""

    def __init__(self, source_dir: Path) -> None:
        self._source_dir = source_dir

    def try_bundle(self, output_dir: str, *_args: Any, **_kwargs: Any) -> bool:
        """Bundle on the host; failures raise (rather than returning False) since Docker is not an option."""
        bundle_lambda_sources(self._source_dir, Path(output_dir))
        return True


def lambda_code(source_dir: Path) -> lambda_.Code:
    """The asset for both functions; CDK stages it once per synth because the hash is the same."""
    source_dir = source_dir.resolve()
    return lambda_.Code.from_asset(
        str(source_dir),
        exclude=list(EXCLUDED_PATTERNS),
        bundling=BundlingOptions(
            # Required by the API but never run: try_bundle either bundles or raises, it never falls back.
            image=LAMBDA_RUNTIME.bundling_image,
            local=LocalPythonBundler(source_dir),
        ),
    )
