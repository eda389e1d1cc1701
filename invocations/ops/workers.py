"""The Workers page: what Celery's Flower would show, behind our login. The workers are asked
(ping and stats, one second at most) by a task on a worker, whose answer is kept in Redis for
the web process; the queue of tasks, the invocations and replays in progress and the queue
polls are read directly.

Every task message carries the time it was sent (invocations/ops/heartbeat.py stamps it), so the
oldest waiting task's age can be told.
"""

import json
import logging
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import redis
from django.conf import settings

from invocations.models import Invocation, ReplayBatch, WatchedQueue, clock
from invocations.ops import heartbeat, sending

log = logging.getLogger(__name__)

ANSWER_KEY = "lambda-triage:workers:answer"
ASKED_KEY = "lambda-triage:workers:asked"
FRESH_SECONDS = 10  # an answer younger than this is shown without asking again
GIVE_UP_SECONDS = 5  # asked this long ago and no answer: no worker is taking tasks
# Celery's default queue, and the keys kombu's Redis transport adds for message priorities.
QUEUE = "celery"
PRIORITY_SEPARATOR = "\x06\x16"
# In progress for longer than this looks stuck (a queued invocation waits for a worker; a
# running one for its function, at most 900 s).
QUEUED_STUCK = timedelta(minutes=1)
RUNNING_STUCK = timedelta(minutes=16)


def _redis() -> redis.Redis:
    return redis.Redis.from_url(
        settings.CELERY_BROKER_URL, socket_connect_timeout=1, socket_timeout=1
    )


# --- In the worker ------------------------------------------------------------------------------


def inspect() -> dict:
    """Ask every worker (ping and stats, one second) and keep the answer in Redis."""
    from celery import current_app

    control = current_app.control.inspect(timeout=1.0)
    pings = control.ping() or {}
    stats = control.stats() or {}
    active = control.active() or {}
    workers = []
    for name in sorted(set(pings) | set(stats)):
        info: Any = stats.get(name, {})
        pool = info.get("pool", {}) or {}
        workers.append(
            {
                "name": name,
                "answered": name in pings,
                "concurrency": pool.get("max-concurrency"),
                "processes": len(pool.get("processes", []) or []),
                "pid": info.get("pid"),
                "uptime": info.get("uptime"),
                "done": sum((info.get("total") or {}).values()),
                "active": [task.get("name", "") for task in active.get(name, [])],
            }
        )
    client = _redis()
    # Redis's clock, as the web process's judgement of "fresh" (heartbeat.redis_now).
    answer = {"at": heartbeat.redis_now(client), "workers": workers}
    client.set(ANSWER_KEY, json.dumps(answer), ex=3600)
    return answer


# --- In the web process -------------------------------------------------------------------------


@dataclass
class WorkerState:
    answer: dict | None = None
    waiting: bool = False  # asked; the answer has not come yet
    silent: bool = False  # asked GIVE_UP_SECONDS ago and no worker took the task
    error: str = ""


def worker_state() -> WorkerState:
    """The workers' last answer; asks again (through a task) when it is old."""
    state = WorkerState()
    try:
        client = _redis()
        raw, asked = client.get(ANSWER_KEY), client.get(ASKED_KEY)
        now = heartbeat.redis_now(client)
    except redis.RedisError as exc:
        state.error = f"Redis did not answer ({type(exc).__name__}): no task can reach a worker."
        return state
    state.answer = json.loads(raw) if raw else None
    answered_at = state.answer["at"] if state.answer else 0.0
    asked_at = float(asked) if asked else 0.0
    if now - answered_at < FRESH_SECONDS:
        return state
    if asked_at > answered_at:
        if now - asked_at < GIVE_UP_SECONDS:
            state.waiting = True
        else:
            state.silent = True
        return state
    # A two-second lock, so that two pages open at once send one task.
    if client.set(ASKED_KEY + ":lock", "1", nx=True, ex=2):
        client.set(ASKED_KEY, str(now), ex=3600)
        if not sending.send(sending.INSPECT_WORKERS):
            state.error = "Redis did not take the task: no worker can be asked."
            return state
    state.waiting = True
    return state


@dataclass
class TaskQueue:
    waiting: int = 0
    oldest_age: float | None = None
    oldest_task: str = ""
    error: str = ""
    names: dict[str, int] = field(default_factory=dict)


def task_queue(sample: int = 200) -> TaskQueue:
    """The tasks waiting in Redis for a worker: how many, the oldest one's age, and what the
    newest `sample` are."""
    found = TaskQueue()
    try:
        client = _redis()
        keys = [QUEUE] + [f"{QUEUE}{PRIORITY_SEPARATOR}{step}" for step in (3, 6, 9)]
        for key in keys:
            found.waiting += client.llen(key)
            oldest = client.lindex(key, -1)  # kombu pushes on the left, takes from the right
            if oldest:
                headers = json.loads(oldest).get("headers", {})
                sent = headers.get(heartbeat.SENT_AT_HEADER)
                if sent is not None:
                    age = heartbeat.redis_now(client) - float(sent)
                    if found.oldest_age is None or age > found.oldest_age:
                        found.oldest_age, found.oldest_task = age, headers.get("task", "")
            for raw in client.lrange(key, 0, sample - 1):
                name = json.loads(raw).get("headers", {}).get("task", "?")
                found.names[name] = found.names.get(name, 0) + 1
    except (redis.RedisError, ValueError) as exc:
        found.error = f"Redis did not answer ({type(exc).__name__})."
    return found


def in_progress(environment) -> dict:
    """Invocations queued or running and replay batches not finished, oldest first, each as
    {"row", "stuck"}. Judged by the database's clock, which wrote the times (models/clock.py)."""
    now = clock.now()
    invocations = (
        Invocation.objects.filter(
            environment=environment,
            status__in=[
                Invocation.Status.QUEUED,
                Invocation.Status.RUNNING,
                Invocation.Status.THROTTLED_RETRYING,
            ],
        )
        .only("pk", "function_name", "status", "created_at", "started_at")
        .order_by("id")[:20]
    )
    batches = ReplayBatch.objects.filter(
        environment=environment,
        status__in=[ReplayBatch.Status.PENDING, ReplayBatch.Status.RUNNING],
    ).order_by("id")[:20]
    return {
        "invocations": [{"row": row, "stuck": _stuck(row, now)} for row in invocations],
        "batches": [
            {"row": b, "stuck": b.position == 0 and now - b.created_at > QUEUED_STUCK}
            for b in batches
        ],
    }


def _stuck(invocation: Invocation, now) -> bool:
    if invocation.status == Invocation.Status.RUNNING:
        return bool(invocation.started_at and now - invocation.started_at > RUNNING_STUCK)
    return now - invocation.created_at > QUEUED_STUCK


def polls(environment) -> list[dict]:
    """Each watched queue with its last poll, as {"row", "late"} (three intervals without a
    poll)."""
    late = timedelta(seconds=3 * settings.POLL_INTERVAL_SECONDS)
    now = clock.now()
    return [
        {
            "row": queue,
            "late": queue.enabled
            and (queue.last_polled_at is None or now - queue.last_polled_at > late),
        }
        for queue in WatchedQueue.objects.filter(environment=environment).order_by("url")
    ]
