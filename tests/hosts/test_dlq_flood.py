"""A dead-letter flood drained by both worker hosts while one of them dies, and while the
database restarts: every message stored once, none lost, the queue empty."""

import json
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection

from invocations.models import ExecutionRecord, Invocation, WatchedQueue
from tests.hosts import cluster as hosts
from tests.hosts import scenario, storm

pytestmark = [pytest.mark.hosts, pytest.mark.timeout(1800)]

# A message a killed poller had received comes back after this.
VISIBILITY_SECONDS = 10


def _flood(count: int) -> tuple[WatchedQueue, set[str]]:
    """A dead-letter queue holding `count` messages, watched; returns it and their IDs."""
    sqs = scenario.aws("sqs")
    name = f"flood-{uuid.uuid4().hex[:8]}"
    url = sqs.create_queue(
        QueueName=name, Attributes={"VisibilityTimeout": str(VISIBILITY_SECONDS)}
    )["QueueUrl"]

    def send(start: int) -> list[str]:
        entries = [
            {"Id": str(n), "MessageBody": json.dumps({"order": n, "flood": name})}
            for n in range(start, min(start + 10, count))
        ]
        answer = scenario.aws("sqs").send_message_batch(QueueUrl=url, Entries=entries)
        assert not answer.get("Failed"), answer["Failed"]
        return [item["MessageId"] for item in answer["Successful"]]

    with ThreadPoolExecutor(8) as pool:
        sent = {message_id for ids in pool.map(send, range(0, count, 10)) for message_id in ids}
    assert len(sent) == count
    queue = WatchedQueue.objects.create(
        environment=storm.environment(), url=url, kind="dlq", function_name="orders"
    )
    return queue, sent


def _drained(queue: WatchedQueue, count: int) -> bool:
    stored = ExecutionRecord.objects.filter(queue=queue).count()
    return stored >= count and scenario.queue_depth(queue.url) == 0


def _figures(queue: WatchedQueue, sent: set[str], figures: dict) -> None:
    ids = list(ExecutionRecord.objects.filter(queue=queue).values_list("message_id", flat=True))
    queue.refresh_from_db()
    figures.update(
        {
            "messages in the flood": len(sent),
            "records stored": len(ids),
            "lost (sent, never stored)": len(sent - set(ids)),
            "stored twice": len(ids) - len(set(ids)),
            "stored that were never sent": len(set(ids) - sent),
            "left in the queue (visible and in flight)": scenario.queue_depth(queue.url),
            "the queue's record counter": queue.records_stored,
        }
    )
    assert figures["lost (sent, never stored)"] == 0
    assert figures["stored twice"] == 0
    assert figures["stored that were never sent"] == 0
    assert figures["left in the queue (visible and in flight)"] == 0
    assert queue.records_stored == len(sent)


def test_a_flood_drained_by_both_workers_while_worker_2_dies_stores_each_message_once(
    cluster, scale, figures
):
    count = scale["flood"]
    queue, sent = _flood(count)
    started = time.monotonic()

    def stored() -> int:
        return ExecutionRecord.objects.filter(queue=queue).count()

    hosts.wait_until(
        lambda: stored() >= count // 4, timeout=300, message="the flood is not being drained"
    )
    killed = cluster.kill_host_processes("worker-2")
    killed_at_stored = stored()
    cluster.start_worker_host("worker-2")
    hosts.wait_until(
        lambda: _drained(queue, count),
        timeout=300 + count / 10,
        interval=1,
        message=f"the flood never drained: {stored()} of {count} stored",
    )

    figures["processes of worker-2 SIGKILLed"] = len(killed)
    figures["stored when worker-2 was killed"] = killed_at_stored
    figures["seconds to drain the flood"] = round(time.monotonic() - started, 1)
    _figures(queue, sent, figures)
    assert killed_at_stored < count  # the kill came in the middle of the drain


def test_a_database_restart_in_the_middle_of_a_flood_loses_nothing_and_health_says_so(
    cluster, scale, figures
):
    count = scale["flood"]
    queue, sent = _flood(count)

    def stored() -> int:
        return ExecutionRecord.objects.filter(queue=queue).count()

    hosts.wait_until(
        lambda: stored() >= count // 4, timeout=300, message="the flood is not being drained"
    )
    stopped_at_stored = stored()
    cluster.stop_postgres()
    stopped_at = time.monotonic()
    connection.close()  # this process's own connection went with the server
    down = hosts.wait_until(
        lambda: (found := cluster.health()) and found["status"] == "down" and found,
        timeout=60,
        message="/health/ never said the database was down",
    )
    said_down = time.monotonic() - stopped_at
    cluster.start_postgres()
    restarted_at = time.monotonic()
    up = hosts.wait_until(
        lambda: (
            (found := cluster.health()) and found["checks"].get("database", {}).get("ok") and found
        ),
        timeout=60,
        message="/health/ never said the database was back",
    )
    said_up = time.monotonic() - restarted_at
    hosts.wait_until(
        lambda: _drained(queue, count),
        timeout=300 + count / 10,
        interval=1,
        message=f"the flood never drained after the restart: {stored()} of {count} stored",
    )
    drained_at = time.monotonic()

    # Invokes work again, each run once, from the web host to a worker.
    env = storm.environment()
    function_name, runs_url = scenario.counting_function()
    from invocations.invoking import inventory

    inventory.sync(env)
    browser = scenario.Browser(storm.operator(), storm.PASSWORD)
    for number in range(5):
        payload = {"marker": f"after-{number}", "runs": runs_url}
        assert browser.invoke(function_name, "RequestResponse", payload) == 200
    rows = Invocation.objects.filter(function_name=function_name)
    hosts.wait_until(
        lambda: rows.filter(status=Invocation.Status.SUCCEEDED).count() == 5,
        timeout=120,
        message="invokes did not work after the database restart",
    )
    runs = scenario.read_runs(runs_url, {})

    figures["stored when PostgreSQL was stopped"] = stopped_at_stored
    figures["/health/ while it was down"] = (
        f"{down['status']}: {down['checks']['database']['reason']}"
    )
    figures["/health/ once it was back"] = f"{up['status']}: {up['checks']['database']['reason']}"
    figures["seconds from the stop until /health/ said down"] = round(said_down, 1)
    figures["seconds from the restart until /health/ said up"] = round(said_up, 1)
    figures["seconds from the restart until the flood was drained"] = round(
        drained_at - restarted_at, 1
    )
    succeeded = rows.filter(status=Invocation.Status.SUCCEEDED).count()
    figures["invokes after the restart (succeeded / runs)"] = (
        f"{succeeded} / {sum(map(len, runs.values()))}"
    )
    _figures(queue, sent, figures)
    assert down["checks"]["database"]["ok"] is False
    assert stopped_at_stored < count
    assert sorted(runs) == [f"after-{n}" for n in range(5)]
    assert all(len(ids) == 1 for ids in runs.values())
