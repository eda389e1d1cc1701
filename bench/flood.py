"""A dead-letter flood: 100,000 dead letters of four functions drained into PostgreSQL by four
pollers at once, and the pages people open while it happens.

Run: `.venv/bin/python -m bench flood`. On 2 cores: filling takes about 45 s per 100,000
messages and the raw drains about 80 s; the pollers' drain sets the rest (16 minutes in all at
140 msg/s, the first run's rate).

Starts a private PostgreSQL (tests/postgres/server.py, as bench/ingest_pg.py does) and a sandbox
answering every call SQS_LATENCY_MS late (`--latency-ms 20`, a stand-in for AWS's network).
Four functions each have a dead-letter queue; their messages are what Lambda writes there (the
bare event as the body, RequestID, ErrorCode and ErrorMessage as attributes), built from
bench/ingest.py's destination records: mostly function errors, one in five throttled (429), so
that failure groups and failed events are made as in production. Then:

- `flood`: messages per second four pollers (`invocations.ingest.polling.poll_all`, the worker's
  own pass over every watched queue, each poller in its own process) store from the four
  queues, FLOOD / 4 deep each, against four raw boto3 drains side by side
  (bench/ingest.py's `raw_drain`: as many receives in flight as a poller, the same attributes,
  batch deletes at once, no database), each in its own process on its own queue of the same
  depth, in the same sandbox. Both sides are started together once every process is ready, and
  timed from that start to the last one's end. Target: ratio at least 0.85. Beside it, from
  /proc: the pollers' CPU and the PostgreSQL server's CPU per 1,000 records (the server's
  includes the page requests below, a few per second).
- `flood_page_triage`, `flood_page_records`: the median time of `/` and of `/records/` while
  the flood is drained, against their median just before it (the same database, already holding
  HISTORY records of the same functions, drained by one poller beforehand). Requested as a
  Viewer through Django's test client in this process on one connection kept open, as a server
  keeps it, one request every PAGE_INTERVAL seconds (people opening pages, not a load test: the
  requests would otherwise take a core from the pollers). Target: at most 2 times.

At the end the run checks what was stored: exactly HISTORY + FLOOD records on the four queues,
no message and no request ID twice, a failed event for each, and every queue empty. Anything
else raises.
"""

import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench import ingest, ingest_pg  # noqa: E402
from bench._common import figure, scaled, setup_django, show, tree_cpu_s  # noqa: E402

FLOOD = scaled(100_000, 200)
HISTORY = scaled(2_000, 40)
FUNCTIONS = ("orders", "payments", "emails", "thumbnails")
POLLERS = 4
SQS_LATENCY_MS = scaled(ingest.SQS_LATENCY_MS, 0)  # the smoke run takes the path, not the wait
# Filling: SendMessageBatch from this many threads per queue, the four queues at once.
FILL_THREADS = 6
DRAIN_TARGET = 0.85
PAGE_TARGET = 2.0
PAGES = {"triage": "/", "records": "/records/"}
PAGE_INTERVAL = scaled(0.5, 0.01)
WARM_UP = 2
BEFORE_ROUNDS = scaled(20, 2)
THROTTLED_EVERY = 5  # the destination records that succeeded become throttled dead letters
CHILD_TIMEOUT = 900
# The pollers' drain is stopped, and the run fails, after this long: a hung poller must not hang
# `make bench`. Generous: the drain itself is what is measured.
DRAIN_BUDGET_SECONDS = scaled(1500, 120)


def dead_letter(index: int, function: str) -> dict:
    """The message Lambda puts on a function's dead-letter queue, from the destination record
    bench/ingest.py builds for the same event: the event itself as the body, the request ID, the
    error code and message as attributes. An event that never ran (throttled) has code 429."""
    record = json.loads(ingest.realistic_record(index, function))
    context = record["requestContext"]
    if context["condition"] == "Success":
        code, message = "429", "Rate exceeded"
    else:
        code, message = "200", record["responsePayload"]["errorMessage"]
    return {
        "MessageBody": json.dumps(record["requestPayload"]),
        "MessageAttributes": {
            "RequestID": {"DataType": "String", "StringValue": context["requestId"]},
            "ErrorCode": {"DataType": "Number", "StringValue": code},
            "ErrorMessage": {"DataType": "String", "StringValue": message},
        },
    }


def fill_queues(endpoint: str, urls: dict[str, str], per_queue: int, first: int) -> float:
    """`per_queue` dead letters into each function's queue, the queues at once; seconds. Indexes
    start at `first`, so no two messages of a run are alike."""

    def one(pair: tuple[int, tuple[str, str]]) -> None:
        n, (function, url) = pair
        start = first + n * per_queue
        ingest.fill(endpoint, url, per_queue, lambda i: dead_letter(start + i, function))

    started = time.monotonic()
    with ThreadPoolExecutor(len(urls)) as pool:
        list(pool.map(one, enumerate(urls.items())))
    return time.monotonic() - started


# Children: each waits, once ready, for a line on stdin, so that all start together.


def _ready_then_wait() -> None:
    print("ready", flush=True)
    sys.stdin.readline()


def child_raw_drain(endpoint: str, url: str) -> None:
    ingest.sqs_client(endpoint)  # boto3's first client is slow to make: not part of the drain
    _ready_then_wait()
    started = time.monotonic()
    drained, _ = ingest.raw_drain(endpoint, url)
    print(json.dumps({"drained": drained, "started": started, "finished": time.monotonic()}))


def child_poll() -> None:
    import django

    django.setup()
    from invocations.ingest import polling
    from invocations.models import WatchedQueue

    queues = list(WatchedQueue.objects.filter(enabled=True).select_related("environment"))
    _ready_then_wait()
    cpu, started = time.process_time(), time.monotonic()
    outcome = polling.poll_all(queues, budget_seconds=0, wait_seconds=0)
    print(
        json.dumps(
            {
                "read_ahead": polling.READ_AHEAD,
                "received": {r.queue_name: r.received for r in outcome.polled},
                "stored": outcome.stored,
                "errors": [f"{r.queue_name}: {r.error}" for r in outcome.failed],
                "cpu_seconds": time.process_time() - cpu,
                "started": started,
                "finished": time.monotonic(),
            }
        )
    )


class Together:
    """Child processes started at once: each prepares, says it is ready, and starts its work
    when all are ready; then `running` says whether any still runs, and `results()` reads the
    JSON each printed last."""

    def __init__(self, commands: list[list[str]], env: dict):
        # Each child's stderr, kept until its results are read (a pipe left unread could fill).
        self._errors = [tempfile.TemporaryFile(mode="w+") for _ in commands]  # noqa: SIM115
        self.processes = [
            subprocess.Popen(
                [sys.executable, __file__, *command],
                env=env,
                cwd=REPO,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=errors,
                text=True,
            )
            for command, errors in zip(commands, self._errors, strict=True)
        ]
        for n, process in enumerate(self.processes):
            assert process.stdout is not None
            if process.stdout.readline().strip() != "ready":
                self._fail(n, "did not get ready")
        self.started = time.monotonic()
        for process in self.processes:
            assert process.stdin is not None
            process.stdin.write("go\n")
            process.stdin.close()

    @property
    def running(self) -> bool:
        return any(process.poll() is None for process in self.processes)

    def results(self) -> list[dict]:
        found = []
        for n, process in enumerate(self.processes):
            assert process.stdout is not None
            output = process.stdout.read()
            if process.wait(timeout=CHILD_TIMEOUT) != 0 or not output.strip():
                self._fail(n, f"exited {process.returncode}")
            found.append(json.loads(output.strip().splitlines()[-1]))
        for errors in self._errors:
            errors.close()
        return found

    def stop(self, why: str):
        for process in self.processes:
            if process.poll() is None:
                process.kill()
        raise RuntimeError(why)

    def _fail(self, n: int, what: str):
        for process in self.processes:
            if process.poll() is None:
                process.kill()
        self._errors[n].seek(0)
        raise RuntimeError(f"child {n} {what}:\n{self._errors[n].read()[-3000:]}")


def _window(runs: list[dict]) -> float:
    return max(run["finished"] for run in runs) - min(run["started"] for run in runs)


def _page_round(client, samples: dict[str, list[tuple[float, float]]]) -> None:
    """Each page once, then the rest of PAGE_INTERVAL waited out: the pace of someone using the
    dashboard, not of a load test."""
    begun = time.monotonic()
    for name, url in PAGES.items():
        started = time.perf_counter()
        response = client.get(url)
        elapsed = (time.perf_counter() - started) * 1000
        if response.status_code != 200:
            raise RuntimeError(f"{url} answered {response.status_code}")
        samples[name].append((begun, elapsed))
    time.sleep(max(0.0, PAGE_INTERVAL - (time.monotonic() - begun)))


def _stored_check(urls: dict[str, str], expected: int) -> dict:
    """What the queues' records are; raises unless exactly `expected`, each message and each
    request once, each with its failed event."""
    from django.db.models import Count

    from invocations.models import ExecutionRecord, FailedEvent, FailureGroup

    records = ExecutionRecord.objects.filter(queue__url__in=urls.values())
    found = records.aggregate(
        rows=Count("pk"),
        messages=Count("message_id", distinct=True),
        requests=Count("request_id", distinct=True),
    )
    by_function = dict(
        records.order_by()
        .values("function_name")
        .annotate(n=Count("pk"))
        .values_list("function_name", "n")
    )
    events = FailedEvent.objects.filter(request_id__in=records.values("request_id")).count()
    groups = FailureGroup.objects.count()
    if found != {"rows": expected, "messages": expected, "requests": expected}:
        raise RuntimeError(f"expected {expected} records, each once; stored {found}")
    if set(by_function) != set(FUNCTIONS) or events != expected or groups < len(FUNCTIONS):
        raise RuntimeError(
            f"stored {found}, by function {by_function}, {events} failed events, {groups} groups"
        )
    return {**found, "failed_events": events, "groups": groups, "by_function": by_function}


def _check_empty(client, urls: dict[str, str]) -> None:
    for url in urls.values():
        attributes = client.get_queue_attributes(
            QueueUrl=url,
            AttributeNames=[
                "ApproximateNumberOfMessages",
                "ApproximateNumberOfMessagesNotVisible",
                "ApproximateNumberOfMessagesDelayed",
            ],
        )["Attributes"]
        left = client.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
        if any(int(v) for v in attributes.values()) or left.get("Messages"):
            raise RuntimeError(f"{url} is not empty: {attributes}")


def main() -> dict:
    from sandbox.testing import run_sandbox

    ingest.FILL_THREADS = FILL_THREADS
    per_queue = FLOOD // len(FUNCTIONS)
    assert per_queue * len(FUNCTIONS) == FLOOD and HISTORY % len(FUNCTIONS) == 0
    with (
        private_postgres_database() as (database_url, env),
        run_sandbox(seed=False, latency_ms=SQS_LATENCY_MS) as sandbox,
    ):
        server = ingest_pg.postmaster_pid(database_url)
        endpoint = sandbox.endpoint_url
        sqs = ingest.sqs_client(endpoint)

        def queues(prefix: str) -> dict[str, str]:
            return {
                function: sqs.create_queue(
                    QueueName=f"{prefix}-{function}", Attributes={"VisibilityTimeout": "60"}
                )["QueueUrl"]
                for function in FUNCTIONS
            }

        # The baseline first: four raw drains, each of its own queue.
        raw_urls = queues("flood-raw")
        seconds = fill_queues(endpoint, raw_urls, per_queue, first=0)
        print(f"info: filled 4 queues with {FLOOD} in {seconds:.1f} s", flush=True)
        raw = Together([["--raw-drain", endpoint, url] for url in raw_urls.values()], env)
        raw_runs = raw.results()
        drained = sum(run["drained"] for run in raw_runs)
        if drained != FLOOD:
            raise RuntimeError(f"the raw drains took {drained} of {FLOOD}")
        baseline_rate = FLOOD / _window(raw_runs)
        print(
            f"info: 4 raw boto3 drains took {drained} in {_window(raw_runs):.1f} s "
            f"({baseline_rate:.0f} msg/s)",
            flush=True,
        )
        _check_empty(sqs, raw_urls)

        # The product: four dead-letter queues watched, a history drained by one poller.
        urls = queues("flood-dlq")
        from django.contrib.auth.models import Group, User
        from django.db import connection
        from django.test import Client

        from invocations.models import Environment, WatchedQueue

        environment = Environment.objects.default()
        environment.endpoint_url, environment.region = endpoint, ingest.REGION
        environment.save()
        for function, url in urls.items():
            WatchedQueue.objects.create(
                environment=environment, url=url, kind="dlq", function_name=function
            )
        viewer = User.objects.create_user("viewer", password="unused")
        viewer.groups.set(Group.objects.filter(name="Viewer"))
        fill_queues(endpoint, urls, HISTORY // len(FUNCTIONS), first=FLOOD)
        history = Together([["--poll"]], env).results()[0]
        if history["errors"] or history["stored"] != HISTORY:
            raise RuntimeError(f"the history was not stored: {history}")
        seconds = fill_queues(endpoint, urls, per_queue, first=FLOOD + HISTORY)
        print(f"info: filled 4 dead-letter queues with {FLOOD} in {seconds:.1f} s", flush=True)

        connection.close()  # the pages' own connection, opened by their first request and kept
        client = Client()
        client.force_login(viewer)
        before: dict[str, list[tuple[float, float]]] = {name: [] for name in PAGES}
        for _ in range(WARM_UP):
            _page_round(client, {name: [] for name in PAGES})
        for _ in range(BEFORE_ROUNDS):
            _page_round(client, before)

        server_before = tree_cpu_s(server)
        pollers = Together([["--poll"]] * POLLERS, env)
        during: dict[str, list[tuple[float, float]]] = {name: [] for name in PAGES}
        while pollers.running or not during["triage"]:
            _page_round(client, during)
            if time.monotonic() - pollers.started > DRAIN_BUDGET_SECONDS:
                pollers.stop(f"still draining after {DRAIN_BUDGET_SECONDS} s")
        runs = pollers.results()
        server_cpu = tree_cpu_s(server) - server_before
        for run in runs:
            if run["errors"] or run["read_ahead"] != ingest.READ_AHEAD:
                raise RuntimeError(f"a poller failed: {run}")
        stored = sum(run["stored"] for run in runs)
        if stored != FLOOD:
            raise RuntimeError(f"the pollers stored {stored} of {FLOOD}")
        checked = _stored_check(urls, HISTORY + FLOOD)
        _check_empty(sqs, urls)
        rate = FLOOD / _window(runs)
        print(
            f"info: {POLLERS} pollers stored {stored} in {_window(runs):.1f} s ({rate:.0f} msg/s); "
            f"messages each poller received, by queue: {[run['received'] for run in runs]}",
            flush=True,
        )
        print(f"info: stored on the four queues: {checked}", flush=True)

    poller_ms = sum(run["cpu_seconds"] for run in runs) * 1000 / FLOOD * 1000
    server_ms = server_cpu * 1000 / FLOOD * 1000
    results = {
        "flood": figure(
            what=(
                f"a {FLOOD:,}-message dead-letter flood of {len(FUNCTIONS)} functions' queues "
                f"drained into PostgreSQL by {POLLERS} pollers, SQS {SQS_LATENCY_MS} ms late"
            ),
            value=rate,
            unit="msg/s",
            baseline=baseline_rate,
            baseline_is=(
                f"{POLLERS} raw boto3 drains side by side, each of its own {per_queue:,}-deep "
                "queue of the same sandbox: as many receives in flight as a poller, the same "
                "attributes, batch deletes at once, no database"
            ),
            target=f">={DRAIN_TARGET}",
            digits=1,
            poller_cpu_ms_per_1000=round(poller_ms, 1),
            server_cpu_ms_per_1000=round(server_ms, 1),
            split=[run["received"] for run in runs],
        )
    }
    show("flood", results["flood"])
    print(
        f"info: CPU per 1,000 records: the pollers {poller_ms:.1f} ms, the PostgreSQL server "
        f"{server_ms:.1f} ms",
        flush=True,
    )
    end = max(run["finished"] for run in runs)
    for name, url in PAGES.items():
        then = [ms for _, ms in before[name]]
        now = [ms for begun, ms in during[name] if begun <= end] or [ms for _, ms in during[name]]
        results[f"flood_page_{name}"] = figure(
            what=f"`{url}` as a Viewer while the flood is drained ({len(now)} requests)",
            value=statistics.median(now),
            unit="ms",
            baseline=statistics.median(then),
            baseline_is=f"the same page's median just before the flood ({len(then)} requests)",
            target=f"<={PAGE_TARGET}",
            digits=1,
        )
        show(f"flood_page_{name}", results[f"flood_page_{name}"])
    return results


@contextlib.contextmanager
def private_postgres_database() -> Iterator[tuple[str, dict]]:
    """A private PostgreSQL server with a migrated database; (its URL, the children's
    environment). This process's Django is set up on it too."""
    with ingest_pg.migrated_private_postgres() as (url, env):
        os.environ.update(env)
        setup_django()
        from django.db import connections
        from django.test.utils import setup_test_environment

        setup_test_environment()  # the test client's host allowed, as bench/pages.py has it

        try:
            yield url, env
        finally:
            connections.close_all()  # before the server stops


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--raw-drain":
        child_raw_drain(sys.argv[2], sys.argv[3])
    elif sys.argv[1:] == ["--poll"]:
        child_poll()
    else:
        main()
