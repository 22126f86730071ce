"""Start Amazon's DynamoDB Local and moto's S3 server on free loopback ports, and stop them again.

Everything talks to them over real HTTP through the standard AWS_ENDPOINT_URL_* variables,
exactly as the Lambda code talks to AWS.
"""

import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DYNAMODB_LOCAL_DIR = REPO_ROOT / ".local" / "dynamodb-local"
LOOPBACK = "127.0.0.1"


@dataclass(frozen=True)
class LocalAws:
    dynamodb_endpoint: str
    s3_endpoint: str

    def environ(self) -> dict[str, str]:
        """The variables that point boto3 (and so the product's code) at the local services."""
        return {
            "AWS_ENDPOINT_URL_DYNAMODB": self.dynamodb_endpoint,
            "AWS_ENDPOINT_URL_S3": self.s3_endpoint,
            "AWS_ACCESS_KEY_ID": "local",
            "AWS_SECRET_ACCESS_KEY": "local",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_REGION": "us-east-1",
        }


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        port: int = sock.getsockname()[1]
        return port


def _wait_until_listening(
    process: subprocess.Popen[bytes], port: int, name: str, log: Path, timeout: float
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"{name} exited with {process.returncode}:\n{log.read_text(errors='replace')[-2000:]}"
            )
        try:
            with socket.create_connection((LOOPBACK, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{name} did not listen on {LOOPBACK}:{port} within {timeout:.0f} s")


@contextmanager
def _server(command: list[str], cwd: Path, port: int, name: str, env: dict[str, str]) -> Iterator[None]:
    log = cwd / f"{name}.log"
    with log.open("wb") as log_file:
        process = subprocess.Popen(command, cwd=cwd, stdout=log_file, stderr=subprocess.STDOUT, env=env)
    try:
        _wait_until_listening(process, port, name, log, timeout=60)
        yield
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextmanager
def local_aws(dynamodb_local_dir: Path | None = None) -> Iterator[LocalAws]:
    """Run both servers for the duration of the block."""
    jar_dir = (
        dynamodb_local_dir or Path(os.environ.get("DYNAMODB_LOCAL_DIR", DEFAULT_DYNAMODB_LOCAL_DIR))
    ).resolve()
    jar = jar_dir / "DynamoDBLocal.jar"
    if not jar.is_file():
        raise RuntimeError(f"{jar} is missing: run `make dynamodb-local` (scripts/fetch-dynamodb-local.sh)")
    dynamodb_port, s3_port = free_port(), free_port()
    env = {**os.environ, "DDB_LOCAL_TELEMETRY": "0"}
    with ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="local-aws-")))
        java = [
            "java",
            "-XX:TieredStopAtLevel=1",
            "-XX:+UseSerialGC",
            f"-Djava.library.path={jar_dir / 'DynamoDBLocal_lib'}",
            "-jar",
            str(jar),
            "-inMemory",
            "-sharedDb",
            "-disableTelemetry",
            "-port",
            str(dynamodb_port),
        ]
        moto = [sys.executable, "-m", "moto.server", "-H", LOOPBACK, "-p", str(s3_port)]
        stack.enter_context(_server(java, workdir, dynamodb_port, "dynamodb-local", env))
        stack.enter_context(_server(moto, workdir, s3_port, "moto-s3", env))
        yield LocalAws(f"http://{LOOPBACK}:{dynamodb_port}", f"http://{LOOPBACK}:{s3_port}")


@contextmanager
def aws_environ(services: LocalAws) -> Iterator[None]:
    """Point this process's boto3 at the local services for the duration of the block."""
    saved = {key: os.environ.get(key) for key in services.environ()}
    os.environ.update(services.environ())
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
