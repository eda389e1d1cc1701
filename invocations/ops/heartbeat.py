"""Signs of life for /health/ that the database cannot give: when beat last sent a task, and
how long the oldest task has waited in the broker for a worker.

Every task message is stamped with the time it was published (a header the worker ignores), so
the oldest message in the broker's queue tells how far behind the workers are. The beat process
also writes the time of each task it sends to one Redis key. Both are connected in
dashboard/celery.py, which every process (web, worker, beat) imports."""

import json
import logging
import time

import redis
from django.conf import settings

log = logging.getLogger(__name__)

SENT_AT_HEADER = "lambda_triage_sent_at"
BEAT_KEY = "lambda-triage:beat-sent-at"
# Celery's default queue, a Redis list: new messages are pushed on the left, workers take from
# the right, so the oldest waiting message is its last element.
TASK_QUEUE = "celery"

_in_beat = False


def _client() -> redis.Redis:
    return redis.Redis.from_url(
        settings.CELERY_BROKER_URL, socket_connect_timeout=1, socket_timeout=1
    )


def mark_beat(**_: object) -> None:
    """beat_init: this process is the scheduler."""
    global _in_beat
    _in_beat = True


def stamp(headers: dict[str, object] | None = None, **_: object) -> None:
    """before_task_publish: stamp the message; in beat, note that beat is alive."""
    now = time.time()
    if headers is not None:
        headers[SENT_AT_HEADER] = now
    if _in_beat:
        try:
            _client().set(BEAT_KEY, now)
        except redis.RedisError as exc:  # the publish itself will fail and say so
            log.warning("could not note beat's heartbeat: %s", exc)


def beat_last_sent() -> float | None:
    """Seconds since the epoch when beat last sent a task; None if never (or Redis is down)."""
    value = _client().get(BEAT_KEY)
    return float(value) if value is not None else None


def oldest_waiting_seconds() -> float | None:
    """How long the oldest task in the broker has waited for a worker; None when none waits."""
    raw = _client().lindex(TASK_QUEUE, -1)
    if raw is None:
        return None
    try:
        sent_at = json.loads(raw)["headers"][SENT_AT_HEADER]
    except (ValueError, KeyError, TypeError):
        return None  # a message published before stamping existed
    return max(0.0, time.time() - float(sent_at))
