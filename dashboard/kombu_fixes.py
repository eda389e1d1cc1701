"""Three fixes to kombu's Redis transport (kombu 5.7), applied when Celery starts.

When Redis goes away (a restart, a cut link) while a worker holds unacknowledged tasks, the
worker closes its channel and kombu tries to put those tasks back in the queue at once. The
connection is already released by then, so kombu fails with an AttributeError that Celery
does not expect: "Unrecoverable error", and the worker exits instead of reconnecting. Putting
them back needs Redis anyway, which is not there; the tasks are still in Redis's unacked set and
come back after the broker's visibility timeout, as a dead worker's do. So that failure is
logged and the worker goes on to reconnect.

kombu makes a new redis-py client for every command it sends outside its event loop, and with
late acknowledgement that is two per task (the task noted as unacknowledged when it arrives,
and its acknowledgement). A redis-py client copies its table of about 170 response callbacks
when it is made: about a tenth of the worker's CPU per invoke (bench/invoke_overhead.py). A
client is only a handle on the channel's connection pool and is safe to share between threads,
so each channel keeps one per pool; a new pool (after a reconnect) gets a new client.

The same happens to a task that finishes after the connection was lost: its acknowledgement
belongs to the old channel and fails the same way. The task comes back after the visibility
timeout and finds its work done (an invoke's attempt is claimed once:
invocations/invoking/lifecycle.py), so that failure is logged too."""

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from kombu.transport import redis as kombu_redis
from kombu.transport import virtual

log = logging.getLogger(__name__)

_original = kombu_redis.QoS.restore_unacked
_original_ack = kombu_redis.QoS.ack


def _restore_unacked(self, client=None):
    try:
        return _original(self, client)
    except AttributeError:  # the connection is gone (kombu: `connection.client` is None)
        log.warning(
            "could not put %d unacknowledged task(s) back while Redis is away; they come back "
            "after the visibility timeout",
            len(self._delivered),
        )
        self._delivered.clear()
        return None


def _ack(self, delivery_tag):
    try:
        return _original_ack(self, delivery_tag)
    except AttributeError:  # its channel's connection is gone
        log.warning(
            "could not acknowledge a task: its connection to Redis is gone; it comes back after "
            "the visibility timeout"
        )
        return virtual.QoS.ack(self, delivery_tag)  # forget it here, as an ack does


@contextmanager
def _conn_or_acquire(self, client=None) -> Iterator:
    if client:
        yield client
        return
    pool = self.pool
    kept = self.__dict__.get("_kept_sync_client")
    if kept is None or kept.connection_pool is not pool:
        kept = self._create_client()
        self.__dict__["_kept_sync_client"] = kept
    yield kept


def apply() -> None:
    kombu_redis.Channel.conn_or_acquire = _conn_or_acquire  # type: ignore[method-assign]
    kombu_redis.QoS.restore_unacked = _restore_unacked  # type: ignore[method-assign]
    kombu_redis.QoS.ack = _ack  # type: ignore[method-assign]
