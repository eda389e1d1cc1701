"""Drain rate of the sandbox's SQS at real queue depths, against stock moto.

Run: `.venv/bin/python bench/sandbox_sqs.py` (about a minute and a half on 2 cores).

Starts two local servers in their own processes, so the client and the server do not share a
GIL: the sandbox (`python -m sandbox`, which installs `sandbox.sqs_fast`) and stock moto
(`python -m moto.server`). For each depth it fills a fresh queue with `SendMessageBatch` (10 a
call, from a few threads) and times a single consumer doing ReceiveMessage (10) followed by
DeleteMessageBatch. Prints one line per target,

    NAME: value=<msgs/s> baseline=<msgs/s> ratio=<value/baseline> target=>=0.8 PASS|FAIL

plus `info` lines for stock moto. `main()` returns {name: {value, baseline, ratio, target, pass}}.
"""

import os
import socket
import statistics
import subprocess
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import boto3
from botocore.config import Config

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench._common import figure, scaled, show  # noqa: E402

REGION = "us-east-1"
TARGET_RATIO = 0.8

DEEP, DEEPER = scaled(10_000, 200), scaled(50_000, 300)
SANDBOX_DEPTHS = (100, DEEP, DEEPER)
STOCK_DEPTHS = (100, scaled(1_000, 200))
# How many messages each measurement drains. A depth-100 queue is refilled and drained
# `SHALLOW_ROUNDS` times so its sample is as large as the deep queues' one.
SAMPLE = scaled(1_000, 100)
SHALLOW_ROUNDS = 10
# Stock moto takes about half a second per receive at depth 1,000; a smaller sample keeps the
# run short and is still ten receives.
STOCK_SAMPLE = scaled(100, 20)
FILL_THREADS = 4
REPEATS = scaled(3, 1)


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _env():
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION=REGION,
        PYTHONPATH=str(REPO),
    )
    return env


def _start(command, port):
    server = subprocess.Popen(
        command, cwd=REPO, env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 60
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return server
        except OSError:
            if server.poll() is not None or time.monotonic() > deadline:
                server.kill()
                raise RuntimeError(f"server did not start: {' '.join(command)}") from None
            time.sleep(0.1)


def _client(endpoint):
    return boto3.client(
        "sqs",
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(retries={"max_attempts": 1}, read_timeout=120, max_pool_connections=16),
    )


def _fill(endpoint, url, count):
    def send(batch_numbers):
        sqs = _client(endpoint)
        for n in batch_numbers:
            entries = [{"Id": str(i), "MessageBody": f"message {n}-{i}"} for i in range(10)]
            sqs.send_message_batch(QueueUrl=url, Entries=entries)

    batches = list(range(count // 10))
    shares = [batches[i::FILL_THREADS] for i in range(FILL_THREADS)]
    with ThreadPoolExecutor(FILL_THREADS) as pool:
        list(pool.map(send, shares))


def _drain(sqs, url, count):
    """Receive-10-and-delete until `count` messages are gone; returns seconds taken."""
    drained = 0
    started = time.perf_counter()
    while drained < count:
        messages = sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=min(10, count - drained), VisibilityTimeout=60
        ).get("Messages", [])
        if not messages:
            raise RuntimeError(f"queue ran dry after {drained} of {count} messages")
        entries = [
            {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)
        ]
        response = sqs.delete_message_batch(QueueUrl=url, Entries=entries)
        drained += len(response["Successful"])
    return time.perf_counter() - started


def drain_rate(endpoint, depth, sample):
    """Messages per second a single consumer drains from a queue `depth` deep: the median of
    REPEATS samples. One sample is about a second of draining, and on a shared machine one
    second read 588 msg/s in one run and 1,530 in the next at the same depth."""
    sqs = _client(endpoint)
    url = sqs.create_queue(QueueName=f"bench-{depth}-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    if depth >= sample:
        # Filled once, deeper by what the earlier samples take: each sample starts at `depth`
        # or deeper.
        _fill(endpoint, url, depth + (REPEATS - 1) * sample)
        return statistics.median(sample / _drain(sqs, url, sample) for _ in range(REPEATS))
    # Shallower than the sample: refill and drain it whole, a few times over.
    rates = []
    rounds = max(1, sample // depth)
    for _ in range(REPEATS):
        seconds = 0.0
        for _ in range(rounds):
            _fill(endpoint, url, depth)
            seconds += _drain(sqs, url, depth)
        rates.append(rounds * depth / seconds)
    return statistics.median(rates)


def _measure(command, port, depths, sample):
    server = _start(command, port)
    try:
        endpoint = f"http://127.0.0.1:{port}"
        return {depth: drain_rate(endpoint, depth, sample) for depth in depths}
    finally:
        server.terminate()
        server.wait(timeout=10)


def _result(depth: int, value: float, baseline: float) -> dict:
    return figure(
        what=f"the sandbox's SQS drain rate at depth {depth:,}, one consumer",
        value=value,
        unit="msg/s",
        baseline=baseline,
        baseline_is="the same drain at depth 100 in the same run",
        target=f">={TARGET_RATIO}",
        digits=1,
    )


def _label(depth: int) -> str:
    return f"{depth // 1000}k" if depth % 1000 == 0 else str(depth)


def main():
    started = time.monotonic()
    sandbox_port, stock_port = _free_port(), _free_port()
    sandbox = _measure(
        [sys.executable, "-m", "sandbox", "--host", "127.0.0.1", "--port", str(sandbox_port)]
        + ["--no-seed"],
        sandbox_port,
        SANDBOX_DEPTHS,
        SAMPLE,
    )
    stock = _measure(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(stock_port)],
        stock_port,
        STOCK_DEPTHS,
        STOCK_SAMPLE,
    )

    results = {
        f"sqs_drain_{_label(depth)}_vs_100": _result(depth, sandbox[depth], sandbox[100])
        for depth in (DEEP, DEEPER)
    }
    for name, f in results.items():
        show(name, f)
    for depth, rate in sandbox.items():
        print(f"info sandbox_drain_{depth}: value={rate:.1f} msgs/s")
    for depth, rate in stock.items():
        print(f"info stock_moto_drain_{depth}: value={rate:.1f} msgs/s")
    print(
        f"info sandbox_vs_stock: sandbox at {DEEPER:,} drains "
        f"{sandbox[DEEPER] / stock[STOCK_DEPTHS[-1]]:.0f}x faster than stock moto at "
        f"{STOCK_DEPTHS[-1]}"
    )
    print(f"info total_seconds: {time.monotonic() - started:.0f}")
    return results


if __name__ == "__main__":
    main()
