"""An invocation whose task the broker lost (Redis stopped between a worker's receive and its
bookkeeping) is sent again; one whose task waits in Redis, or a worker holds, is not."""

import json
from datetime import timedelta

import pytest
import redis

from invocations.models import Environment, Invocation
from invocations.ops import lost_tasks, sending


def _queued(env, minutes_ago: int) -> Invocation:
    row = Invocation.objects.create(environment=env, function_name="hello", payload="{}")
    created = row.created_at - timedelta(minutes=minutes_ago)
    Invocation.objects.filter(pk=row.pk).update(created_at=created)
    return row


def _message(pk: int) -> str:
    return json.dumps({"headers": {"task": sending.RUN_INVOCATION, "argsrepr": f"({pk},)"}})


@pytest.mark.broker
def test_it_sends_again_only_the_old_queued_invocations_whose_task_is_nowhere(
    db, redis_server, settings
):
    settings.LOST_TASK_SECONDS = 60
    env = Environment.objects.default()
    lost = _queued(env, minutes_ago=5)
    waiting = _queued(env, minutes_ago=5)
    taken = _queued(env, minutes_ago=5)
    young = _queued(env, minutes_ago=0)
    client = redis.Redis.from_url(redis_server.url)
    client.flushdb()
    client.lpush("celery", _message(waiting.pk))
    client.hset("unacked", "tag", json.dumps([json.loads(_message(taken.pk)), "", "celery"]))

    sent = lost_tasks.requeue_lost()

    assert sent == 1
    resent = [json.loads(raw)["headers"]["argsrepr"] for raw in client.lrange("celery", 0, -1)]
    assert sorted(resent) == sorted([f"({waiting.pk},)", f"({lost.pk},)"])
    assert young.pk not in {int(r.strip("(,)")) for r in resent}
    client.flushdb()
