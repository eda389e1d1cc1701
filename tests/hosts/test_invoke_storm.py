"""Invoke storms from the web host while a worker host is cut off, and while Redis restarts."""

import time

import pytest
import redis

from invocations.ops import heartbeat
from tests.hosts import cluster as hosts
from tests.hosts import storm

pytestmark = [pytest.mark.hosts, pytest.mark.timeout(900)]


def test_a_storm_while_worker_1_is_cut_off_ends_every_invocation_once(cluster, scale, figures):
    storm.run(
        cluster,
        scale["invocations"],
        break_=lambda: cluster.network.cut("worker-1"),
        mend=lambda: cluster.network.mend("worker-1"),
        outage_seconds=scale["cut_seconds"],
        figures=figures,
    )


def test_a_storm_through_a_redis_restart_loses_no_task_and_everyone_reconnects(
    cluster, scale, figures
):
    broker = redis.Redis.from_url(hosts.redis_url(), socket_timeout=5)
    seen: dict[str, float] = {}

    def kill_redis() -> None:
        # Tasks waiting, and tasks taken by a worker and not acknowledged: what append-only
        # keeps across the restart.
        seen["waiting"] = broker.llen("celery") + broker.hlen("unacked")
        cluster.redis.kill()
        seen["killed"] = time.time()

    def start_redis() -> None:
        cluster.start_redis()
        seen["restarted"] = time.time()

    storm.run(
        cluster,
        scale["invocations"],
        break_=kill_redis,
        mend=start_redis,
        outage_seconds=5,
        figures=figures,
        ready=lambda: broker.llen("celery") > 0,
    )

    back = hosts.wait_until(
        lambda: (
            cluster.health_check("workers")
            and (sent := heartbeat.beat_last_sent()) is not None
            and sent > seen["restarted"]
            and time.time()
        ),
        timeout=120,
        message="the workers or beat did not come back after Redis restarted",
    )
    figures["tasks in Redis (waiting or taken, not acknowledged) when it was SIGKILLed"] = seen[
        "waiting"
    ]
    figures["seconds Redis was down (the storm goes on meanwhile)"] = round(
        seen["restarted"] - seen["killed"], 1
    )
    figures["seconds until workers and beat were back"] = round(back - seen["restarted"], 1)
    assert seen["waiting"] > 0  # the restart had tasks to keep
