"""Celery beat that can run on every worker host: one schedules, the others wait to take over.

The lock is celery-redbeat's, a Redis key with a time to live that the scheduling beat extends
on every tick (at least every CELERY_BEAT_MAX_LOOP_INTERVAL seconds). A beat that starts while
another holds it waits; when the holder's host is lost, the key expires after
CELERY_REDBEAT_LOCK_TIMEOUT (one poll interval) and a waiting beat takes it, so polling stops
for at most about two poll intervals. Redbeat keeps each entry's last run in Redis too, so the
new beat does not send everything again at once.

Why Redis and not a PostgreSQL advisory lock: an advisory lock belongs to a database session,
and a session whose host vanished (power lost, cable cut) lives on in PostgreSQL until TCP
keepalive gives up on it, two hours with the kernel's defaults; a key with a time to live frees
itself whatever happened to its holder. And beat is of no use without Redis anyway: everything
it does is publish to it.

What redbeat alone does not do, and this scheduler adds: a beat whose Redis went away (a
restart, a cut link) raised out of its loop and exited; here it logs, waits and tries again. A
beat that finds on its return that its lock ran out (another beat holds it now) stops
scheduling and waits for the lock like a beat that has just started, instead of scheduling
beside the new holder.
"""

import logging
from typing import Any

import redis
from django.conf import settings
from redbeat import RedBeatScheduler
from redbeat.schedulers import LUA_EXTEND_TO_SCRIPT, get_redis
from redis.exceptions import LockError

log = logging.getLogger(__name__)


class FailoverScheduler(RedBeatScheduler):
    # How long a beat waits before trying Redis again after it did not answer.
    retry_seconds = 1.0
    lock: Any = None  # redis-py's Lock while this beat holds it

    def __init__(self, app: Any, *args: Any, **kwargs: Any) -> None:
        # redbeat reads its options under their own names only; Django's settings carry them
        # as CELERY_REDBEAT_* (without this, its Redis client had no timeouts at all).
        app.conf.update(
            redbeat_redis_url=settings.CELERY_REDBEAT_REDIS_URL,
            redbeat_redis_options=settings.CELERY_REDBEAT_REDIS_OPTIONS,
            redbeat_key_prefix=settings.CELERY_REDBEAT_KEY_PREFIX,
            redbeat_lock_timeout=settings.CELERY_REDBEAT_LOCK_TIMEOUT,
        )
        super().__init__(app, *args, **kwargs)

    def tick(self, *args: Any, **kwargs: Any) -> float:
        try:
            if self.lock_key and self.lock is None and not self._try_lock():
                return float(self.max_interval)  # another beat schedules: wait for its lock
            return float(super().tick(*args, **kwargs))
        except LockError:
            log.warning("beat: the lock ran out and another beat holds it; waiting to take over")
            self.lock = None
            return float(self.max_interval)
        except redis.RedisError as exc:
            log.warning("beat: Redis did not answer (%s); trying again", exc)
            return self.retry_seconds

    def _try_lock(self) -> bool:
        """Take the lock if it is free (no wait). redbeat takes it at start, waiting for as
        long as another beat holds it; this is for a beat that lost it or never got it because
        Redis did not answer then."""
        client = get_redis(self.app)
        lock = client.lock(self.lock_key, timeout=self.lock_timeout, sleep=self.max_interval)
        lock.lua_extend = client.register_script(LUA_EXTEND_TO_SCRIPT)
        if not lock.acquire(blocking=False):
            return False
        log.info("beat: acquired the lock; scheduling")
        self.lock = lock
        return True
