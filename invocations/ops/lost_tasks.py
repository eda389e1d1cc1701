"""Invocations whose task the broker lost, sent again (beat, with requeue_unsent).

kombu's Redis transport takes a task off the queue (BRPOP) and only then records it as taken
(the `unacked` hash), in a second command. If Redis stops between the two (a crash, a restart
under load), the task is in neither place: append-only persistence cannot keep what was never
written, and the invocation would stay `queued` for good. Such a row is found by looking: queued
for LOST_TASK_SECONDS, never claimed, and its task neither waiting in Redis nor taken by a
worker. Sending it again is safe: its first attempt has not been claimed, and a claim is a
conditional UPDATE, so at most one copy invokes."""

import ast
import json
import logging
from datetime import timedelta

import redis
from django.conf import settings

from invocations.models import Invocation, clock
from invocations.ops import sending

log = logging.getLogger(__name__)

QUEUE = "celery"
PRIORITY_SEPARATOR = "\x06\x16"
UNACKED = "unacked"  # kombu's hash of the tasks workers have taken and not acknowledged


def requeue_lost(limit: int = 200) -> int:
    """Send again the invocations whose task is nowhere in Redis; returns how many."""
    cutoff = clock.now() - timedelta(seconds=settings.LOST_TASK_SECONDS)
    candidates = list(
        Invocation.objects.filter(
            status=Invocation.Status.QUEUED, attempts=0, error_code="", created_at__lt=cutoff
        )
        .order_by("id")
        .values_list("pk", flat=True)[:limit]
    )
    if not candidates:
        return 0
    try:
        present = _invocations_in_redis()
    except (redis.RedisError, ValueError) as exc:
        log.warning("could not look for lost tasks: %s", exc)
        return 0
    lost = [pk for pk in candidates if pk not in present]
    for pk in lost:
        log.warning("invocation %s: its task was lost by the broker; sending it again", pk)
        sending.send(sending.RUN_INVOCATION, pk)
    return len(lost)


def _invocations_in_redis() -> set[int]:
    client = redis.Redis.from_url(
        settings.CELERY_BROKER_URL, socket_connect_timeout=2, socket_timeout=5
    )
    messages: list[dict] = []
    for key in [QUEUE] + [f"{QUEUE}{PRIORITY_SEPARATOR}{step}" for step in (3, 6, 9)]:
        messages += [json.loads(raw) for raw in client.lrange(key, 0, -1)]
    # An unacked entry is [message, exchange, routing key].
    messages += [json.loads(raw)[0] for raw in client.hvals(UNACKED)]
    found = set()
    for message in messages:
        headers = message.get("headers", {})
        if headers.get("task") != sending.RUN_INVOCATION:
            continue
        args = ast.literal_eval(headers.get("argsrepr") or "()")
        if args:
            found.add(int(args[0]))
    return found
