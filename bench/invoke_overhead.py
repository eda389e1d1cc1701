"""What the dashboard's invoke path costs over a bare boto3 invoke, against a sandbox that
answers like AWS across a network.

Run: `.venv/bin/python -m bench invoke_overhead` (about a minute).

Starts the sandbox (`sandbox.testing.run_sandbox`, seeded, `latency_ms=20`: every answer 20 ms
late, a stand-in for AWS's network, so that the figure is what a user meets rather than two
cores shared by the dashboard and the functions), a private `redis-server`, and a Celery worker
subprocess (threads pool, 8 threads) against a throwaway SQLite database (or the database in
DATABASE_URL, when set). Then, for the seeded `hello` function, `SEQUENTIAL` synchronous
invocations each way, interleaved:

- `invoke_latency_ratio`: the median time through the dashboard path (an Invocation row and its
  audit event, sent after the commit, Redis, the worker's claim, the invoke, the saved result:
  from just before the row is created to the row's `finished_at`) against the median of raw
  boto3 invokes. Target: at most 1.3.
- `invoke_cpu_ms`: the dashboard's own CPU time per invoke: the web side (`lifecycle.start()`,
  this process's thread CPU time around it) plus the worker process (user + system time from
  `/proc/PID/stat` over the whole run; the raw invokes between the dashboard's do not touch
  the worker). Target: at most 6 ms. Reported beside it: the invokes per second one worker core
  sustains (1000 / the worker's CPU ms per invoke).

Prints one line per target,

    NAME: value=… baseline=… ratio=… target=… PASS|FAIL

plus `info` lines, and `main()` returns {name: {"value", "baseline", "ratio", "target", "pass"}}.
"""

import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench._common import figure, process_cpu_s, scaled, show  # noqa: E402

REGION = "us-east-1"
SEQUENTIAL = scaled(100, 3)
CONCURRENCY = 8  # worker threads
WARMUP = scaled(8, 1)
LATENCY_TARGET = 1.3
CPU_TARGET_MS = 6.0
SANDBOX_LATENCY_MS = 20
PAYLOAD = b'{"name": "bench"}'
# How often a submitting thread looks at its row. Latency is read from the row's finished_at,
# so this only decides how soon a thread submits its next one (and how much CPU the looking
# takes from the sandbox and the worker on a small machine).
POLL_SECONDS = 0.01


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _start_redis(port: int) -> subprocess.Popen:
    binary = shutil.which("redis-server")
    if binary is None:
        raise RuntimeError("redis-server is not installed (apt-get install -y redis-server)")
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return process
        except OSError:
            if process.poll() is not None:
                raise RuntimeError(f"redis-server exited at start (port {port} taken?)") from None
            time.sleep(0.05)
    raise RuntimeError("redis-server did not start within 10 s")


def _stop(process: subprocess.Popen | None) -> None:
    if process is not None and process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


def _raw_client(endpoint: str):
    import boto3
    from botocore.config import Config

    session = boto3.session.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION
    )
    config = Config(
        connect_timeout=5,
        read_timeout=60,
        retries={"max_attempts": 1, "mode": "standard"},
        max_pool_connections=CONCURRENCY * 2,
    )
    return session.client("lambda", endpoint_url=endpoint, config=config)


def _raw_invoke(client) -> float:
    started = time.perf_counter()
    answer = client.invoke(
        FunctionName="hello", InvocationType="RequestResponse", LogType="Tail", Payload=PAYLOAD
    )
    answer["Payload"].read()
    if answer.get("FunctionError"):
        raise RuntimeError(f"raw invoke failed: {answer}")
    return time.perf_counter() - started


def _dashboard_invoke(environment, web_cpu: list) -> float:
    """Submit through lifecycle.start() and wait for the row to be done; returns the seconds
    from just before the row is created to the finished_at the worker wrote, and appends the
    CPU seconds lifecycle.start() took to ``web_cpu``."""
    from django.db import connection
    from django.utils import timezone

    from invocations.access.actor import SYSTEM
    from invocations.invoking import lifecycle
    from invocations.models import Invocation

    submitted = timezone.now()
    cpu_before = time.thread_time()
    invocation = lifecycle.start(
        actor=SYSTEM, environment=environment, function_name="hello", payload=PAYLOAD.decode()
    )
    web_cpu.append(time.thread_time() - cpu_before)
    deadline = time.monotonic() + 60
    table = Invocation._meta.db_table
    # A bare SELECT of one column: the ORM's own cost, eight threads a hundred times a second,
    # would take CPU from the sandbox and the worker that are being measured. The thread's
    # connection stays open for its next call (_close_connections ends it).
    with connection.cursor() as cursor:
        while True:
            cursor.execute(f"SELECT status FROM {table} WHERE id = %s", [invocation.pk])
            status = cursor.fetchone()[0]
            if status in Invocation.DONE:
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"invocation {invocation.pk} still {status} after 60 s")
            time.sleep(POLL_SECONDS)
    row = (
        Invocation.objects.filter(pk=invocation.pk)
        .values("status", "finished_at", "error_text")
        .first()
    )
    if row["status"] != Invocation.Status.SUCCEEDED:
        raise RuntimeError(f"invocation {invocation.pk} {row['status']}: {row['error_text']}")
    return (row["finished_at"] - submitted).total_seconds()


def _phases(environment) -> None:
    """Where the dashboard's time goes: row created → worker claimed it → row done."""
    from invocations.models import Invocation

    rows = list(
        Invocation.objects.filter(environment=environment)
        .order_by("-id")[:SEQUENTIAL]
        .values("created_at", "started_at", "finished_at")
    )
    queued = statistics.median((r["started_at"] - r["created_at"]).total_seconds() for r in rows)
    running = statistics.median((r["finished_at"] - r["started_at"]).total_seconds() for r in rows)
    print(
        f"info: dashboard phases (median): created → claimed by the worker {queued * 1000:.1f} ms, "
        f"claimed → done {running * 1000:.1f} ms",
        flush=True,
    )


def _line(name, value, baseline, ratio, target, passed, unit) -> None:
    print(
        f"{name}: value={value:.4g}{unit} baseline={baseline:.4g}{unit} ratio={ratio:.3f} "
        f"target={target} {'PASS' if passed else 'FAIL'}",
        flush=True,
    )


def main() -> dict:
    from sandbox.testing import run_sandbox

    redis_process = worker = None
    folder = tempfile.mkdtemp(prefix="invoke-bench-")
    try:
        with run_sandbox(seed=True, latency_ms=SANDBOX_LATENCY_MS) as sandbox:
            redis_port = _free_port()
            redis_process = _start_redis(redis_port)
            env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
            env.update(
                # What production runs: the test settings close the database connection after
                # every task (their in-process worker's threads end with each test), which cost
                # the worker about 1 ms per invoke that no deployment pays.
                DJANGO_SETTINGS_MODULE="dashboard.settings",
                DJANGO_SECRET_KEY="bench-only-secret-key-not-used-anywhere-else-0123456789",
                DJANGO_SECURE_HTTPS="false",
                SANDBOX_ENABLED="true",
                DATABASE_URL=os.environ.get("DATABASE_URL") or f"sqlite:///{folder}/bench.sqlite3",
                REDIS_URL=f"redis://127.0.0.1:{redis_port}/0",
                AWS_ENDPOINT_URL=sandbox.endpoint_url,
                AWS_REGION=REGION,
                AWS_DEFAULT_REGION=REGION,
                AWS_ACCESS_KEY_ID="testing",
                AWS_SECRET_ACCESS_KEY="testing",
                AWS_ENVIRONMENT_NAME="bench",
                LOG_LEVEL="WARNING",
                PYTHONPATH=str(REPO),
            )
            subprocess.run(
                [sys.executable, "manage.py", "migrate", "--no-input", "-v", "0"],
                env=env,
                cwd=REPO,
                check=True,
            )
            worker = subprocess.Popen(
                [
                    *(sys.executable, "-m", "celery", "-A", "dashboard", "worker"),
                    *("--pool", "threads", "--concurrency", str(CONCURRENCY)),
                    *("--loglevel", "WARNING", "--without-mingle", "--without-gossip"),
                    "--without-heartbeat",
                ],
                env=env,
                cwd=REPO,
                stdout=subprocess.DEVNULL,
                stderr=open(Path(folder) / "worker.log", "w"),  # noqa: SIM115
            )
            os.environ.update(env)
            import django

            django.setup()
            from invocations.models import Environment

            environment = Environment.objects.default()
            raw = _raw_client(sandbox.endpoint_url)

            for _ in range(WARMUP):  # the worker's first task, connections, the sandbox's cache
                _dashboard_invoke(environment, [])
                _raw_invoke(raw)

            # Interleaved, so that drift in the machine's load touches both the same way. The
            # worker's CPU is counted over the whole loop (the raw invokes do not use it, and
            # what it does after a row is done, such as acknowledging the task, still counts).
            raw_times, ours, web_cpu = [], [], []
            worker_before = process_cpu_s(worker.pid)
            raw_cpu = 0.0
            for _ in range(SEQUENTIAL):
                cpu_before = time.thread_time()
                raw_times.append(_raw_invoke(raw))
                raw_cpu += time.thread_time() - cpu_before
                ours.append(_dashboard_invoke(environment, web_cpu))
            worker_cpu = process_cpu_s(worker.pid) - worker_before
            raw_median, our_median = statistics.median(raw_times), statistics.median(ours)
            _phases(environment)
            print(
                f"info: sequential {SEQUENTIAL}: raw median {raw_median * 1000:.1f} ms "
                f"(p90 {statistics.quantiles(raw_times, n=10)[-1] * 1000:.1f}), dashboard "
                f"median {our_median * 1000:.1f} ms "
                f"(p90 {statistics.quantiles(ours, n=10)[-1] * 1000:.1f})",
                flush=True,
            )
    finally:
        _stop(worker)
        _stop(redis_process)
        shutil.rmtree(folder, ignore_errors=True)

    web_ms = sum(web_cpu) / len(web_cpu) * 1000
    worker_ms = worker_cpu / SEQUENTIAL * 1000
    cpu_ms = web_ms + worker_ms
    per_core = 1000 / worker_ms if worker_ms else float("inf")
    results = {
        "invoke_latency_ratio": figure(
            what=(
                f"median sync invoke through the dashboard (row, Redis, worker, result saved), "
                f"sandbox {SANDBOX_LATENCY_MS} ms late"
            ),
            value=our_median * 1000,
            unit="ms",
            baseline=raw_median * 1000,
            baseline_is="the median raw boto3 invoke of the same function, interleaved",
            target=f"<={LATENCY_TARGET}",
            digits=1,
            overhead_ms=round((our_median - raw_median) * 1000, 1),
        ),
        "invoke_cpu_ms": figure(
            what=(
                f"the dashboard's own CPU per invoke: web {web_ms:.1f} + worker {worker_ms:.1f} "
                f"ms; one worker core sustains about {per_core:.0f} invokes/s"
            ),
            value=cpu_ms,
            unit="ms",
            baseline_is="none: an absolute budget",
            target=f"<={CPU_TARGET_MS:g}",
            judged_on="value",
            digits=2,
            web_ms=round(web_ms, 2),
            worker_ms=round(worker_ms, 2),
            raw_boto3_caller_cpu_ms=round(raw_cpu / SEQUENTIAL * 1000, 2),
        ),
    }
    for name, f in results.items():
        show(name, f)
    print(
        f"info: CPU per invoke: web {web_ms:.2f} ms + worker {worker_ms:.2f} ms; one worker "
        f"core sustains about {per_core:.0f} invokes/s; a raw boto3 invoke alone costs its "
        f"caller {raw_cpu / SEQUENTIAL * 1000:.2f} ms",
        flush=True,
    )
    return results


if __name__ == "__main__":
    main()
