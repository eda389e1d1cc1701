"""Ingestion throughput and memory: the poller against a raw boto3 loop, on the same sandbox.

Run: `.venv/bin/python bench/ingest.py` (about four minutes on 2 cores; the 50,000-message
drain is cut at LARGE_BUDGET_SECONDS).

Starts one sandbox (`sandbox.testing.run_sandbox`, no seed) and migrates a throwaway SQLite
database. Fills queues with realistic destination records (SendMessageBatch, 10 a call, from a
few threads), then:

- `ingest_rate`: messages per second that `poll_queues` (the real `invocations.ingest.polling` code:
  receive 10 → parse → insert in one transaction → DeleteMessageBatch, with its read-ahead)
  drains from a 10,000-deep queue into SQLite, against a raw boto3 loop that only receives 10
  and deletes the batch, with no parsing and no database, from another 10,000-deep queue on the
  same sandbox in the same run. Two rounds, alternating the sides; each side's best round
  counts. Target: ratio at least 0.8.
- `ingest_memory`: the poller's peak resident memory (ru_maxrss of its own process) draining
  50,000 messages against draining 10,000. Target: ratio at most 1.1 (flat).

The poller runs in a child process (`--drain`), so its peak memory is its own and the client
does not share a GIL with the sandbox. Prints one line per target,

    NAME: value=… baseline=… ratio=… target=… PASS|FAIL

and `main()` returns {name: {"value", "baseline", "ratio", "target", "pass"}}.
"""

import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

REGION = "us-east-1"
SMALL, LARGE = 10_000, 50_000
# The 50,000-message drain stops after this long, so the whole run stays bounded; a poller too
# slow to finish reports how far it got, and the memory target then fails.
LARGE_BUDGET_SECONDS = 240
FILL_THREADS = 4
ROUNDS = 2
SIDES = ("baseline", "poller")
RATE_TARGET = 0.8
MEMORY_TARGET = 1.1


def realistic_record(index: int) -> str:
    """A destination record as Lambda sends it: mostly failures with a stack trace, some
    successes, payloads of a few hundred bytes."""
    request_id = str(uuid.uuid4())
    order = random.randint(-(10**6), 10**6)
    failed = index % 5 != 0
    record = {
        "version": "1.0",
        "timestamp": "2026-11-26T15:48:18.521Z",
        "requestContext": {
            "requestId": request_id,
            "functionArn": "arn:aws:lambda:us-east-1:123456789012:function:orders:$LATEST",
            "condition": "RetriesExhausted" if failed else "Success",
            "approximateInvokeCount": 3 if failed else 1,
        },
        "requestPayload": {
            "order": order,
            "customer": {"id": f"c-{index}", "country": "DE"},
            "items": [{"sku": f"sku-{i}", "quantity": i + 1, "price": 9.99} for i in range(3)],
        },
        "responseContext": {"statusCode": 200, "executedVersion": "$LATEST"},
    }
    if failed:
        record["responseContext"]["functionError"] = "Unhandled"
        record["responsePayload"] = {
            "errorMessage": f"order must be a positive integer, got {order}",
            "errorType": "ValueError",
            "requestId": request_id,
            "stackTrace": [
                '  File "/var/task/lambda_function.py", line 7, in lambda_handler\n'
                '    raise ValueError(f"order must be a positive integer, got {order!r}")\n'
            ],
        }
    else:
        record["responsePayload"] = {"order": order, "status": "processed", "items": 3}
    return json.dumps(record)


def sqs_client(endpoint: str):
    import boto3
    from botocore.config import Config

    return boto3.client(
        "sqs",
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(retries={"max_attempts": 3, "mode": "standard"}, max_pool_connections=20),
    )


def fill(endpoint: str, url: str, count: int) -> float:
    def send(start: int) -> None:
        client = sqs_client(endpoint)
        for offset in range(start, min(start + 1000, count), 10):
            entries = [
                {"Id": str(i), "MessageBody": realistic_record(offset + i)}
                for i in range(min(10, count - offset))
            ]
            answer = client.send_message_batch(QueueUrl=url, Entries=entries)
            if answer.get("Failed"):
                raise RuntimeError(f"send failed: {answer['Failed'][:1]}")

    started = time.monotonic()
    with ThreadPoolExecutor(FILL_THREADS) as pool:
        list(pool.map(send, range(0, count, 1000)))
    return time.monotonic() - started


def raw_drain(endpoint: str, url: str) -> tuple[int, float]:
    """The baseline: receive 10, delete them, until empty. No parsing, no database."""
    client = sqs_client(endpoint)
    drained, started = 0, time.monotonic()
    while True:
        messages = client.receive_message(
            QueueUrl=url,
            MaxNumberOfMessages=10,
            WaitTimeSeconds=0,
            MessageAttributeNames=["All"],
            MessageSystemAttributeNames=["All"],
        ).get("Messages", [])
        if not messages:
            return drained, time.monotonic() - started
        client.delete_message_batch(
            QueueUrl=url,
            Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)
            ],
        )
        drained += len(messages)


def child_drain(endpoint: str, url: str, budget: float = 0) -> None:
    """In a child process: poll one watched queue until empty; print JSON figures."""
    import django

    django.setup()
    from invocations.ingest import polling
    from invocations.models import Environment, ExecutionRecord, WatchedQueue

    env = Environment.objects.default()
    env.endpoint_url, env.region = endpoint, REGION
    env.save()
    queue, _ = WatchedQueue.objects.get_or_create(
        environment=env, url=url, defaults={"kind": "destination", "function_name": "orders"}
    )
    before = ExecutionRecord.objects.filter(queue=queue).count()
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    cpu_before = time.process_time()
    started = time.monotonic()
    result = polling.poll_queue(queue, budget_seconds=budget, wait_seconds=0)
    elapsed = time.monotonic() - started
    print(
        json.dumps(
            {
                "received": result.received,
                "stored": ExecutionRecord.objects.filter(queue=queue).count() - before,
                "error": result.error,
                "seconds": elapsed,
                "cpu_seconds": time.process_time() - cpu_before,
                "rss_before_kb": rss_before,
                "peak_rss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
            }
        )
    )


def run_child(endpoint: str, url: str, env: dict, budget: float = 0) -> dict:
    answer = subprocess.run(
        [sys.executable, __file__, "--drain", endpoint, url, str(budget)],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
    )
    if answer.returncode != 0:
        raise RuntimeError(f"poller child failed:\n{answer.stderr[-3000:]}")
    return json.loads(answer.stdout.strip().splitlines()[-1])


def line(name, value, baseline, ratio, target, passed, unit=""):
    print(
        f"{name}: value={value:.0f}{unit} baseline={baseline:.0f}{unit} ratio={ratio:.2f} "
        f"target={target} {'PASS' if passed else 'FAIL'}",
        flush=True,
    )


def main() -> dict:
    from sandbox.testing import run_sandbox

    results = {}
    with (
        tempfile.TemporaryDirectory(prefix="ingest-bench-") as folder,
        run_sandbox(seed=False) as sandbox,
    ):
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.update(
            DJANGO_SETTINGS_MODULE="dashboard.settings_test",
            DATABASE_URL=f"sqlite:///{folder}/bench.sqlite3",
            AWS_ACCESS_KEY_ID="testing",
            AWS_SECRET_ACCESS_KEY="testing",
            AWS_DEFAULT_REGION=REGION,
            PYTHONPATH=str(REPO),
        )
        subprocess.run(
            [sys.executable, "manage.py", "migrate", "--no-input", "-v", "0"],
            env=env,
            cwd=REPO,
            check=True,
        )
        endpoint = sandbox.endpoint_url
        client = sqs_client(endpoint)
        urls = {
            name: client.create_queue(QueueName=f"bench-{name}")["QueueUrl"]
            for name in ("large", *(f"{side}-{n}" for n in range(ROUNDS) for side in SIDES))
        }
        for n in range(ROUNDS):
            for side in SIDES:
                seconds = fill(endpoint, urls[f"{side}-{n}"], SMALL)
                print(f"info: filled bench-{side}-{n} with {SMALL} in {seconds:.1f} s", flush=True)

        # Rounds alternate the two sides and each side keeps its best: a shared machine's
        # speed drifts by more than the difference being measured.
        baseline_rate, poller_rate, small_runs = 0.0, 0.0, []
        for n in range(ROUNDS):
            drained, seconds = raw_drain(endpoint, urls[f"baseline-{n}"])
            baseline_rate = max(baseline_rate, drained / seconds)
            print(f"info: raw boto3 loop drained {drained} in {seconds:.1f} s", flush=True)
            small = run_child(endpoint, urls[f"poller-{n}"], env)
            print(f"info: poller drained {small}", flush=True)
            if small["error"] or small["stored"] != SMALL:
                raise RuntimeError(f"the poller did not store every message: {small}")
            poller_rate = max(poller_rate, small["received"] / small["seconds"])
            small_runs.append(small)
        small = min(small_runs, key=lambda run: run["peak_rss_kb"])
        ratio = poller_rate / baseline_rate
        line(
            "ingest_rate",
            poller_rate,
            baseline_rate,
            ratio,
            f">={RATE_TARGET}",
            ratio >= RATE_TARGET,
            " msg/s",
        )
        results["ingest_rate"] = {
            "value": poller_rate,
            "baseline": baseline_rate,
            "ratio": ratio,
            "target": RATE_TARGET,
            "pass": ratio >= RATE_TARGET,
        }

        seconds = fill(endpoint, urls["large"], LARGE)
        print(f"info: filled bench-large with {LARGE} in {seconds:.1f} s", flush=True)
        large = run_child(endpoint, urls["large"], env, budget=LARGE_BUDGET_SECONDS)
        print(f"info: poller drained {large}", flush=True)
        if large["error"] or large["stored"] != large["received"]:
            raise RuntimeError(f"the poller did not store every message: {large}")
        finished = large["received"] >= LARGE
        if not finished:
            print(
                f"info: only {large['received']} of {LARGE} drained in {LARGE_BUDGET_SECONDS} s "
                f"({large['received'] / large['seconds']:.0f} msg/s): memory measured there",
                flush=True,
            )
        ratio = large["peak_rss_kb"] / small["peak_rss_kb"]
        passed = finished and ratio <= MEMORY_TARGET
        line(
            "ingest_memory",
            large["peak_rss_kb"] / 1024,
            small["peak_rss_kb"] / 1024,
            ratio,
            f"<={MEMORY_TARGET}",
            passed,
            " MB",
        )
        results["ingest_memory"] = {
            "value": large["peak_rss_kb"] / 1024,
            "baseline": small["peak_rss_kb"] / 1024,
            "ratio": ratio,
            "target": MEMORY_TARGET,
            "pass": passed,
        }
    return results


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--drain":
        child_drain(sys.argv[2], sys.argv[3], float(sys.argv[4]))
    else:
        main()
