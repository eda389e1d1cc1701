"""Signs of life for /health/ that the database cannot give: when beat last sent a task, and
how long the oldest task has waited in the broker for a worker.

Every task message is stamped with the time it was published (a header the worker ignores), so
the oldest message in the broker's queue tells how far behind the workers are. The beat process
also writes the time of each task it sends to one Redis key. Both are connected in
dashboard/celery.py, which every process (web, worker, beat) imports.

These times are Redis's, not each host's: a publisher's stamp is its clock corrected by how far
it is from Redis's (measured once a minute), and ages are measured with Redis's clock. A host
whose clock runs two minutes ahead would otherwise make beat look alive two minutes after it
stopped, and one running behind would make every waiting task look late."""

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
# Redis's clock minus this process's, and when that was measured (time.monotonic()).
_offset: tuple[float, float] | None = None
OFFSET_SECONDS = 60


def _client() -> redis.Redis:
    return redis.Redis.from_url(
        settings.CELERY_BROKER_URL, socket_connect_timeout=1, socket_timeout=1
    )


def mark_beat(**_: object) -> None:
    """beat_init: this process is the scheduler."""
    global _in_beat
    _in_beat = True


def redis_now(client: redis.Redis) -> float:
    """Redis's clock, seconds since the epoch."""
    seconds, microseconds = client.time()
    return float(seconds) + microseconds / 1_000_000


def _redis_offset() -> float:
    """How far Redis's clock is ahead of this process's (0 while it cannot be asked)."""
    global _offset
    if _offset is None or time.monotonic() - _offset[1] > OFFSET_SECONDS:
        previous = 0.0 if _offset is None else _offset[0]
        try:
            _offset = (redis_now(_client()) - time.time(), time.monotonic())
        except redis.RedisError:  # asked again in a minute, not on every publish meanwhile
            _offset = (previous, time.monotonic())
    return _offset[0]


def stamp(headers: dict[str, object] | None = None, **_: object) -> None:
    """before_task_publish: stamp the message; in beat, note that beat is alive."""
    now = time.time() + _redis_offset()
    if headers is not None:
        headers[SENT_AT_HEADER] = now
    if _in_beat:
        try:
            _client().set(BEAT_KEY, now)
        except redis.RedisError as exc:  # the publish itself will fail and say so
            log.warning("could not note beat's heartbeat: %s", exc)


def beat_last_sent() -> float | None:
    """Seconds since the epoch (Redis's clock) when beat last sent a task; None if never."""
    value = _client().get(BEAT_KEY)
    return float(value) if value is not None else None


def seconds_since_beat() -> float | None:
    """How long ago beat last sent a task, by Redis's clock; None if it never did."""
    client = _client()
    value = client.get(BEAT_KEY)
    return None if value is None else max(0.0, redis_now(client) - float(value))


def oldest_waiting_seconds() -> float | None:
    """How long the oldest task in the broker has waited for a worker; None when none waits."""
    client = _client()
    raw = client.lindex(TASK_QUEUE, -1)
    if raw is None:
        return None
    try:
        sent_at = json.loads(raw)["headers"][SENT_AT_HEADER]
    except (ValueError, KeyError, TypeError):
        return None  # a message published before stamping existed
    return max(0.0, redis_now(client) - float(sent_at))
