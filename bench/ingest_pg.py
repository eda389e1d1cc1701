"""Ingestion on PostgreSQL, the production database: the poller's rate, and several pollers on
one deep queue.

Run: `.venv/bin/python -m bench ingest_pg` (about five minutes on 2 cores).

Starts a private PostgreSQL (tests/postgres/server.py, the one the test suite uses) and migrates
a database on it, then:

- `ingest_rate_pg`: as `ingest_rate` (bench/ingest.py), into PostgreSQL, with the sandbox
  answering SQS 20 ms late: messages per second the poller (`invocations.ingest.polling`, in a
  child process) drains from a 10,000-deep queue, against the raw boto3 drain (as many receives
  in flight as the poller, batch deletes at once, no database) on another 10,000-deep queue of
  the same sandbox. Rounds alternate the sides; each side's best counts. Target: ratio at least
  0.9. Beside it, from /proc: the poller's CPU and the PostgreSQL server's CPU (the postmaster
  and every backend) per 1,000 records.
- `ingest_scaling_3_pollers`: one 20,000-deep queue drained by three pollers at once (three
  processes, each holding one of the queue's leases) against the same drained by one, with a
  sandbox that answers every request 100 ms late (`--latency-ms 100`, a stand-in for AWS across
  regions), so that the drain is bound by AWS's latency and not by this machine's two cores.
  Target: ratio of the rates at least 2.5.
"""

import contextlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench import ingest  # noqa: E402
from bench._common import figure, scaled, show, tree_cpu_s  # noqa: E402
from tests.postgres.server import private_postgres  # noqa: E402

RATE_MESSAGES = scaled(10_000, 60)
DEEP = scaled(20_000, 30)
POLLERS = 3
LATENCY_MS = scaled(100, 0)  # the smoke run takes the path, not the wait
SCALING_TARGET = 2.5
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


def postmaster_pid(database_url: str) -> int:
    """The PostgreSQL server's main process, found by the port in its command line."""
    port = database_url.rsplit(":", 1)[1].split("/")[0]
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as cmdline:
                words = cmdline.read().split(b"\0")
        except OSError:
            continue
        if (
            words
            and words[0].endswith(b"postgres")
            and b"-p" in words
            and words[words.index(b"-p") + 1 : words.index(b"-p") + 2] == [port.encode()]
        ):
            return int(entry)
    raise RuntimeError(f"no PostgreSQL server found on port {port}")


@contextlib.contextmanager
def migrated_private_postgres() -> Iterator[tuple[str, dict]]:
    """A private PostgreSQL server with the product's tables: (its URL, the environment for the
    child processes that use it: pollers, drains)."""
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
        yield database_url, env


def main() -> dict:
    from sandbox.testing import run_sandbox

    ingest.FILL_THREADS = FILL_THREADS
    results = {}
    with migrated_private_postgres() as (database_url, env):
        server = postmaster_pid(database_url)

        with run_sandbox(seed=False, latency_ms=ingest.SQS_LATENCY_MS) as sandbox:
            endpoint = sandbox.endpoint_url
            client = ingest.sqs_client(endpoint)
            urls = {
                f"{side}-{n}": client.create_queue(
                    QueueName=f"bench-pg-{side}-{n}", Attributes={"VisibilityTimeout": "60"}
                )["QueueUrl"]
                for n in range(ingest.ROUNDS)
                for side in ingest.SIDES
            }
            for name, url in urls.items():
                seconds = ingest.fill(endpoint, url, RATE_MESSAGES)
                print(f"info: filled bench-pg-{name} with {RATE_MESSAGES} in {seconds:.1f} s")
            baseline_rate, runs = 0.0, []
            for n in range(ingest.ROUNDS):
                drained, seconds = ingest.raw_drain(endpoint, urls[f"baseline-{n}"])
                if drained != RATE_MESSAGES:
                    raise RuntimeError(f"the raw drain took {drained} of {RATE_MESSAGES}")
                baseline_rate = max(baseline_rate, drained / seconds)
                print(f"info: raw boto3 drain took {drained} in {seconds:.1f} s", flush=True)
                server_before = tree_cpu_s(server)
                run = ingest.run_child(endpoint, urls[f"poller-{n}"], env)
                run["server_cpu_seconds"] = tree_cpu_s(server) - server_before
                print(f"info: poller drained into PostgreSQL {run}", flush=True)
                if run["error"] or run["stored"] != RATE_MESSAGES:
                    raise RuntimeError(f"the poller did not store every message: {run}")
                runs.append(run)
            server_ms = min(r["server_cpu_seconds"] * 1000 / r["stored"] * 1000 for r in runs)
            results["ingest_rate_pg"] = ingest.rate_figure(
                "PostgreSQL",
                baseline_rate,
                runs,
                server_cpu_ms_per_1000=round(server_ms, 1),
            )
            show("ingest_rate_pg", results["ingest_rate_pg"])
            print(
                f"info: CPU per 1,000 records: the poller "
                f"{results['ingest_rate_pg']['poller_cpu_ms_per_1000']} ms, the PostgreSQL "
                f"server {server_ms:.1f} ms",
                flush=True,
            )

        with run_sandbox(seed=False, latency_ms=LATENCY_MS) as sandbox:
            endpoint = sandbox.endpoint_url
            client = ingest.sqs_client(endpoint)
            rates = {}
            for pollers in (1, POLLERS):
                url = client.create_queue(
                    QueueName=f"bench-pg-deep-{pollers}", Attributes={"VisibilityTimeout": "60"}
                )["QueueUrl"]
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
            results["ingest_scaling_3_pollers"] = figure(
                what=(
                    f"one {DEEP:,}-deep queue drained into PostgreSQL by {POLLERS} pollers, "
                    f"every AWS call {LATENCY_MS} ms late"
                ),
                value=rates[POLLERS],
                unit="msg/s",
                baseline=rates[1],
                baseline_is="one poller on the same kind of queue in the same run",
                target=f">={SCALING_TARGET}",
                digits=1,
            )
            show("ingest_scaling_3_pollers", results["ingest_scaling_3_pollers"])
    return results


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--watch":
        child_watch(sys.argv[2], sys.argv[3])
    elif len(sys.argv) == 3 and sys.argv[1] == "--count":
        child_count(sys.argv[2])
    else:
        main()
