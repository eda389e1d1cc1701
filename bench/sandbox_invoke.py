"""Synchronous invoke latency through the sandbox, against moto's echo backend.

Run: `.venv/bin/python -m bench sandbox_invoke` (about 20 s).

Starts two servers in their own processes: the sandbox (`python -m sandbox --no-seed`), which
runs functions under AWS's Python runtime in warm execution environments, and stock moto with
`{"lambda": {"use_docker": false}}`, whose invoke only echoes the payload (moto's HTTP path and
nothing else). Both get the same small function; each is invoked `SAMPLE` times in a row after
a warm-up, and the medians compared: the warm median is the target. Cold starts are measured
beside it: each of `COLD_SAMPLE` fresh functions is invoked once (a new environment: a
process, AWS's runtime client, the import of the handler). Then eight invocations of a 0.5 s
handler are sent to the sandbox at once, twice: the first round starts eight environments (its
wall time is reported), the second runs in them in parallel, so its wall time (the target)
should be close to 0.5 s, not 4 s. Prints one line per target,

    NAME: value=... baseline=... ratio=... target=... PASS|FAIL

and `main()` returns {name: {value, baseline, ratio, target, pass}}.
"""

import io
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import zipfile
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import boto3
from botocore.config import Config

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench._common import figure, scaled, show  # noqa: E402

REGION = "us-east-1"
SAMPLE = scaled(200, 5)
WARM_UP = scaled(10, 1)
COLD_SAMPLE = scaled(10, 1)
CONCURRENT = 8
SLEEP_S = 0.5
# A warm environment answers from a process that is already running; boto3 alone costs about
# 1.5 ms a call here. Parallel sleeps must overlap: at most twice the sleep.
LATENCY_TARGET_MS = 5.0
CONCURRENT_TARGET_S = 2 * SLEEP_S

ECHO_SOURCE = "def lambda_handler(event, context):\n    return event\n"
SLEEP_SOURCE = (
    "import time\n\ndef lambda_handler(event, context):\n"
    f"    time.sleep({SLEEP_S})\n    return 'slept'\n"
)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _env() -> dict:
    env = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}
    env.update(
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION=REGION,
        PYTHONPATH=str(REPO),
    )
    return env


@contextmanager
def _server(command: list[str], port: int):
    with tempfile.TemporaryFile() as log:
        yield from _serve(command, port, log)


def _serve(command: list[str], port: int, log):
    process = subprocess.Popen(command, cwd=REPO, env=_env(), stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/moto-api/", timeout=1):
                    break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    log.seek(0)
                    raise RuntimeError(f"{command} did not start: {log.read()[-2000:]!r}") from None
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


def _lambda(endpoint_url: str):
    return boto3.client(
        "lambda",
        endpoint_url=endpoint_url,
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(retries={"max_attempts": 1}, max_pool_connections=CONCURRENT * 2),
    )


def _create(client, name: str, source: str) -> None:
    iam = boto3.client(
        "iam",
        endpoint_url=client.meta.endpoint_url,
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    try:
        role_arn = iam.get_role(RoleName="bench")["Role"]["Arn"]
    except iam.exceptions.NoSuchEntityException:
        role_arn = iam.create_role(RoleName="bench", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("lambda_function.py", source)
    client.create_function(
        FunctionName=name,
        Runtime="python3.11",
        Role=role_arn,
        Handler="lambda_function.lambda_handler",
        Code={"ZipFile": buffer.getvalue()},
        Timeout=10,
    )


def _median_latency_ms(client, name: str) -> float:
    payload = json.dumps({"order": 42}).encode()
    for _ in range(WARM_UP):
        client.invoke(FunctionName=name, Payload=payload)["Payload"].read()
    samples = []
    for _ in range(SAMPLE):
        started = time.perf_counter()
        client.invoke(FunctionName=name, Payload=payload)["Payload"].read()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def _cold_median_ms(client) -> float:
    samples = []
    for number in range(COLD_SAMPLE):
        name = f"bench-cold-{number}"
        _create(client, name, ECHO_SOURCE)
        started = time.perf_counter()
        client.invoke(FunctionName=name, Payload=b"{}")["Payload"].read()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def _concurrent_wall_s(client, name: str) -> tuple[float, float]:
    """Eight at once, twice: the first round starts eight environments (cold starts, on two
    cores), the second finds them warm. Returns both wall times."""

    def one(_):
        response = client.invoke(FunctionName=name, Payload=b"{}")
        assert "FunctionError" not in response, response["Payload"].read()
        return response["Payload"].read()

    rounds = []
    for _ in range(2):
        with ThreadPoolExecutor(CONCURRENT) as pool:
            started = time.perf_counter()
            list(pool.map(one, range(CONCURRENT)))
            rounds.append(time.perf_counter() - started)
    return rounds[0], rounds[1]


def main() -> dict:
    started = time.monotonic()
    sandbox_port, stock_port = _free_port(), _free_port()
    sandbox_command = [sys.executable, "-m", "sandbox", "--host", "127.0.0.1"]
    sandbox_command += ["--port", str(sandbox_port), "--no-seed"]
    with _server(sandbox_command, sandbox_port) as endpoint_url:
        client = _lambda(endpoint_url)
        _create(client, "bench-echo", ECHO_SOURCE)
        _create(client, "bench-sleep", SLEEP_SOURCE)
        sandbox_ms = _median_latency_ms(client, "bench-echo")
        cold_ms = _cold_median_ms(client)
        cold_concurrent_s, concurrent_s = _concurrent_wall_s(client, "bench-sleep")

    stock_command = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(stock_port)]
    with _server(stock_command, stock_port) as endpoint_url:
        request = urllib.request.Request(
            f"{endpoint_url}/moto-api/config",
            data=json.dumps({"lambda": {"use_docker": False}}).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        urllib.request.urlopen(request, timeout=5).close()
        client = _lambda(endpoint_url)
        _create(client, "bench-echo", ECHO_SOURCE)
        echo_ms = _median_latency_ms(client, "bench-echo")

    results = {
        "sandbox_warm_invoke_median_ms": figure(
            what="warm sync invoke through boto3, the sandbox running the function",
            value=sandbox_ms,
            unit="ms",
            baseline=echo_ms,
            baseline_is="stock moto's echo backend (runs nothing), same client (reported beside)",
            target=f"<={LATENCY_TARGET_MS:g}",
            judged_on="value",
            digits=2,
        ),
        # A cold start is a process start: reported, not judged.
        "sandbox_cold_invoke_median_ms": figure(
            what="a new environment (process, AWS's runtime client, the import)",
            value=cold_ms,
            unit="ms",
            baseline=sandbox_ms,
            baseline_is="the warm invoke above",
            target="reported",
            digits=1,
        ),
        "sandbox_8_concurrent_0_5s_wall_s": figure(
            what=(
                f"8 handlers sleeping {SLEEP_S} s at once, warm "
                f"(cold round: {cold_concurrent_s:.2f} s)"
            ),
            value=concurrent_s,
            unit="s",
            baseline=SLEEP_S,
            baseline_is="one handler's sleep, the least it can take",
            target=f"<={CONCURRENT_TARGET_S:g}",
            judged_on="value",
            digits=2,
        ),
    }
    for name, f in results.items():
        show(name, f)
    print(f"info echo_backend_median_ms: value={echo_ms:.2f} (moto use_docker=False)")
    print(f"info serial_8_would_take_s: value={CONCURRENT * SLEEP_S:.1f}")
    print(f"info total_seconds: {time.monotonic() - started:.0f}")
    return results


if __name__ == "__main__":
    main()
