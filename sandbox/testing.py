"""Starts a sandbox in a subprocess for tests: ``with run_sandbox() as sandbox: ...``."""

import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
START_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class RunningSandbox:
    endpoint_url: str
    region: str
    log_path: Path  # the sandbox's own stdout and stderr, for when a test needs to know why
    process: subprocess.Popen | None = field(default=None, compare=False, repr=False)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def run_sandbox(
    retry_delays: str = "1,2",
    seed: bool = True,
    region: str = "us-east-1",
    latency_ms: float = 0,
    enforce_iam: bool = False,
    scale: int = 0,
    aws_quotas: bool = False,
):
    port = free_port()
    endpoint_url = f"http://127.0.0.1:{port}"
    env = {key: value for key, value in os.environ.items() if key != "AWS_PROFILE"}
    env.update(
        {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": region,
            "PYTHONPATH": os.pathsep.join(filter(None, [str(PROJECT_ROOT), env.get("PYTHONPATH")])),
        }
    )
    command = [sys.executable, "-m", "sandbox", "--host", "127.0.0.1", "--port", str(port)]
    command += ["--retry-delays", retry_delays]
    if not seed:
        command.append("--no-seed")
    if latency_ms:
        command += ["--latency-ms", str(latency_ms)]

    if enforce_iam:
        command.append("--enforce-iam")
    if scale:
        command += ["--scale", str(scale)]
    if aws_quotas:
        command.append("--aws-quotas")

    log_file = tempfile.NamedTemporaryFile(prefix="sandbox-", suffix=".log", delete=False)  # noqa: SIM115
    process = subprocess.Popen(
        command, cwd=PROJECT_ROOT, env=env, stdout=log_file, stderr=subprocess.STDOUT
    )
    try:
        # Seeding a scaled account takes a few seconds per block of ten functions.
        _wait_until_ready(process, Path(log_file.name), START_TIMEOUT_S + 3 * scale)
        yield RunningSandbox(endpoint_url, region, Path(log_file.name), process)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        log_file.close()


def _wait_until_ready(
    process: subprocess.Popen, log_path: Path, timeout: float = START_TIMEOUT_S
) -> None:
    # "ready" is printed after seeding, so the sample functions exist once we see it.
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"sandbox exited early:\n{log_path.read_text()[-4000:]}")
        if any(line.startswith("ready ") for line in log_path.read_text().splitlines()):
            return
        time.sleep(0.1)
    raise RuntimeError(f"sandbox not ready after {timeout} s:\n{log_path.read_text()[-4000:]}")


def is_answering(endpoint_url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{endpoint_url}/moto-api/", timeout=2):
            return True
    except (urllib.error.URLError, OSError):
        return False
