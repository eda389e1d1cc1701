"""A worker host whose clock runs two minutes ahead (libfaketime for every process on it) takes
no lease another host holds, and the times it writes are the database's."""

import os
import subprocess
import sys
import time
import uuid

import pytest

from invocations.models import ExecutionRecord, Invocation, QueueLease, WatchedQueue
from tests.hosts import cluster as hosts
from tests.hosts import scenario, storm

pytestmark = [pytest.mark.hosts, pytest.mark.timeout(600)]

LIBFAKETIME = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1"
AHEAD_SECONDS = 120
SKEWED = {
    "LD_PRELOAD": LIBFAKETIME,
    "FAKETIME": f"+{AHEAD_SECONDS}s",
    # Sleeps and timeouts keep real time; only the wall clock is wrong, as on a drifting host.
    "FAKETIME_DONT_FAKE_MONOTONIC": "1",
}


def _python(cluster, host: str, code: str, **env: str) -> str:
    done = subprocess.run(
        [*cluster.network.run_in(host), sys.executable, "-c", code],
        cwd=hosts.PROJECT_ROOT,
        env=cluster.django_env(host, **env),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


DJANGO = "import django; django.setup()\n"


def test_a_host_two_minutes_ahead_takes_no_held_lease_and_writes_the_database_time(
    cluster, figures
):
    if not os.path.exists(LIBFAKETIME):
        pytest.fail("libfaketime is missing: `make test-hosts` installs it (apt: faketime)")
    ahead = float(_python(cluster, "worker-2", "import time; print(time.time())", **SKEWED))
    skew = ahead - time.time()
    assert skew > AHEAD_SECONDS - 10, f"libfaketime did not move worker-2's clock ({skew:.0f} s)"

    # worker-1 holds every lease of a queue with messages waiting in it.
    sqs = scenario.aws("sqs")
    url = sqs.create_queue(QueueName=f"skew-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    for number in range(5):
        sqs.send_message(QueueUrl=url, MessageBody=f'{{"order": {number}}}')
    queue = WatchedQueue.objects.create(
        environment=storm.environment(), url=url, kind="dlq", function_name="orders", enabled=False
    )
    _python(
        cluster,
        "worker-1",
        DJANGO + "from invocations.models import WatchedQueue\n"
        f"queue = WatchedQueue.objects.get(pk={queue.pk})\n"
        "while queue.claim(60) is not None:\n    pass\n",
    )
    held = dict(QueueLease.objects.filter(queue=queue).values_list("slot", "holder"))
    WatchedQueue.objects.filter(pk=queue.pk).update(enabled=True)

    # worker-2, two minutes ahead, polls: the leases are not free by the database's clock.
    polled = _python(
        cluster,
        "worker-2",
        DJANGO + "from invocations.ingest import polling\n"
        "outcome = polling.poll_all(budget_seconds=5, wait_seconds=0)\n"
        "print(sum(result.stored for result in outcome.results))\n",
        **SKEWED,
    )
    taken = {
        slot
        for slot, holder in QueueLease.objects.filter(queue=queue).values_list("slot", "holder")
        if holder != held.get(slot)
    }
    stored = ExecutionRecord.objects.filter(queue=queue).count()
    WatchedQueue.objects.filter(pk=queue.pk).update(enabled=False)

    # The whole of worker-2 runs two minutes ahead and is the only worker: what it runs is
    # stamped with the database's clock.
    cluster.kill_host_processes("worker-2")
    cluster.start_worker_host("worker-2", **SKEWED)
    cluster.roles["worker-1"]["worker"].kill()
    try:
        env = storm.environment()
        function_name, runs_url = scenario.counting_function()
        from invocations.invoking import inventory

        inventory.sync(env)
        browser = scenario.Browser(storm.operator(), storm.PASSWORD)
        for number in range(5):
            payload = {"marker": f"skew-{number}", "runs": runs_url, "seconds": 1}
            assert browser.invoke(function_name, "RequestResponse", payload) == 200
        rows = Invocation.objects.filter(function_name=function_name)
        hosts.wait_until(
            lambda: rows.filter(status=Invocation.Status.SUCCEEDED).count() == 5,
            timeout=120,
            message="the skewed worker did not run the invocations",
        )
        from invocations.ops import workers

        stuck = [row for row in workers.in_progress(env)["invocations"] if row["stuck"]]
        times = list(rows.values_list("created_at", "started_at", "finished_at"))
    finally:
        cluster.kill_host_processes("worker-2")
        cluster.start_worker_host("worker-2")
        cluster.roles["worker-1"]["worker"].start()

    late = max((started - created).total_seconds() for created, started, _ in times)
    figures["worker-2's clock ahead by (s)"] = round(skew)
    figures["leases held by worker-1"] = len(held)
    figures["leases the skewed host took from worker-1"] = len(taken)
    figures["records the skewed host stored from the held queue"] = stored
    figures["invocations run by the skewed host"] = len(times)
    figures["most seconds between created and started (database clock)"] = round(late, 1)
    figures["invocations marked stuck"] = len(stuck)
    assert len(held) >= 1
    assert int(polled.strip().splitlines()[-1]) == 0
    assert taken == set()
    assert stored == 0
    assert late < AHEAD_SECONDS / 2
    assert all(created <= started <= finished for created, started, finished in times)
    assert stuck == []
