"""Ingestion on PostgreSQL, the production database: the poller's rate, and several pollers on
one deep queue.

Run: `.venv/bin/python -m bench ingest_pg` (about five minutes on 2 cores).

Starts a private PostgreSQL (tests/postgres/server.py, the one the test suite uses) and migrates
a database on it, then:

- `ingest_rate_pg`: as `ingest_rate` (bench/ingest.py), into PostgreSQL: messages per second
  the poller (`invocations.ingest.polling`, in a child process) drains from a 10,000-deep queue,
  against the raw boto3 loop (receive 10, delete them, no parsing, no database) on another
  10,000-deep queue of the same sandbox. Two rounds alternating the sides; each side's best
  counts. Target: ratio at least 0.8.
- `ingest_scaling_3_pollers`: one 20,000-deep queue drained by three pollers at once (three
  processes, each holding one of the queue's leases) against the same drained by one, with a
  sandbox that answers every request 100 ms late (`--latency-ms 100`, a stand-in for AWS across
  regions), so that the drain is bound by AWS's latency and not by this machine's two cores.
  Target: ratio of the rates at least 2.0.

Prints one line per target and `main()` returns {name: {"value", "baseline", "ratio", "target",
"pass"}}, as the other benchmarks do.
"""

import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench import ingest  # noqa: E402
from tests.postgres.server import private_postgres  # noqa: E402

RATE_MESSAGES = 10_000
DEEP = 20_000
POLLERS = 3
LATENCY_MS = 100
RATE_TARGET = 0.8
SCALING_TARGET = 2.0
# With every call 100 ms late, filling needs many calls in flight.
FILL_THREADS = 20


def child_watch(endpoint: str, url: str) -> None:
    """In a child process: point the default environment at the sandbox and watch `url`
    (once, before pollers start together)."""
    import django

    django.setup()
    from invocations.models import Environment, WatchedQueue

    env = Environment.objects.default()
    env.endpoint_url, env.region = endpoint, ingest.REGION
    env.save()
    WatchedQueue.objects.get_or_create(
        environment=env, url=url, defaults={"kind": "destination", "function_name": "orders"}
    )


def child_count(url: str) -> None:
    import django

    django.setup()
    from invocations.models import ExecutionRecord

    print(json.dumps({"stored": ExecutionRecord.objects.filter(queue__url=url).count()}))


def _child(env: dict, *args: str) -> str:
    answer = subprocess.run(
        [sys.executable, __file__, *args],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=900,
    )
    if answer.returncode != 0:
        raise RuntimeError(f"child {args[0]} failed:\n{answer.stderr[-3000:]}")
    return answer.stdout


def _drain_with(pollers: int, endpoint: str, url: str, env: dict) -> tuple[int, float]:
    """Start `pollers` poller processes on one queue together; (records stored, seconds)."""
    _child(env, "--watch", endpoint, url)
    started = time.monotonic()
    with ThreadPoolExecutor(pollers) as pool:
        runs = list(pool.map(lambda _: ingest.run_child(endpoint, url, env), range(pollers)))
    seconds = time.monotonic() - started
    for run in runs:
        if run["error"]:
            raise RuntimeError(f"a poller failed: {run}")
    stored = json.loads(_child(env, "--count", url).strip().splitlines()[-1])["stored"]
    return stored, seconds


def _figure(name, value, baseline, target, unit) -> dict:
    ratio = value / baseline
    passed = ratio >= target
    ingest.line(name, value, baseline, ratio, f">={target}", passed, unit)
    return {"value": value, "baseline": baseline, "ratio": ratio, "target": target, "pass": passed}


def main() -> dict:
    from sandbox.testing import run_sandbox

    ingest.FILL_THREADS = FILL_THREADS
    results = {}
    with private_postgres(create_database=True) as database_url:
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.update(
            DJANGO_SETTINGS_MODULE="dashboard.settings_test",
            DATABASE_URL=database_url,
            AWS_ACCESS_KEY_ID="testing",
            AWS_SECRET_ACCESS_KEY="testing",
            AWS_DEFAULT_REGION=ingest.REGION,
            PYTHONPATH=str(REPO),
        )
        subprocess.run(
            [sys.executable, "manage.py", "migrate", "--no-input", "-v", "0"],
            env=env,
            cwd=REPO,
            check=True,
        )

        with run_sandbox(seed=False) as sandbox:
            endpoint = sandbox.endpoint_url
            client = ingest.sqs_client(endpoint)
            urls = {
                f"{side}-{n}": client.create_queue(QueueName=f"bench-pg-{side}-{n}")["QueueUrl"]
                for n in range(ingest.ROUNDS)
                for side in ingest.SIDES
            }
            for name, url in urls.items():
                seconds = ingest.fill(endpoint, url, RATE_MESSAGES)
                print(f"info: filled bench-pg-{name} with {RATE_MESSAGES} in {seconds:.1f} s")
            baseline_rate, poller_rate = 0.0, 0.0
            for n in range(ingest.ROUNDS):
                drained, seconds = ingest.raw_drain(endpoint, urls[f"baseline-{n}"])
                baseline_rate = max(baseline_rate, drained / seconds)
                print(f"info: raw boto3 loop drained {drained} in {seconds:.1f} s", flush=True)
                run = ingest.run_child(endpoint, urls[f"poller-{n}"], env)
                print(f"info: poller drained into PostgreSQL {run}", flush=True)
                if run["error"] or run["stored"] != RATE_MESSAGES:
                    raise RuntimeError(f"the poller did not store every message: {run}")
                poller_rate = max(poller_rate, run["received"] / run["seconds"])
            results["ingest_rate_pg"] = _figure(
                "ingest_rate_pg", poller_rate, baseline_rate, RATE_TARGET, " msg/s"
            )

        with run_sandbox(seed=False, latency_ms=LATENCY_MS) as sandbox:
            endpoint = sandbox.endpoint_url
            client = ingest.sqs_client(endpoint)
            rates = {}
            for pollers in (1, POLLERS):
                url = client.create_queue(QueueName=f"bench-pg-deep-{pollers}")["QueueUrl"]
                seconds = ingest.fill(endpoint, url, DEEP)
                print(f"info: filled a {DEEP}-deep queue in {seconds:.1f} s", flush=True)
                stored, seconds = _drain_with(pollers, endpoint, url, env)
                print(
                    f"info: {pollers} poller(s) stored {stored} in {seconds:.1f} s "
                    f"({stored / seconds:.0f} msg/s, every AWS call {LATENCY_MS} ms late)",
                    flush=True,
                )
                if stored != DEEP:
                    raise RuntimeError(f"{pollers} pollers stored {stored} of {DEEP}")
                rates[pollers] = stored / seconds
            results["ingest_scaling_3_pollers"] = _figure(
                "ingest_scaling_3_pollers", rates[POLLERS], rates[1], SCALING_TARGET, " msg/s"
            )
    return results


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--watch":
        child_watch(sys.argv[2], sys.argv[3])
    elif len(sys.argv) == 3 and sys.argv[1] == "--count":
        child_count(sys.argv[2])
    else:
        main()
