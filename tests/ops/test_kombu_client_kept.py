"""kombu's Redis channel keeps one redis-py client per connection pool (dashboard/kombu_fixes.py)
instead of making one for every acknowledgement and publish; a new pool gets a new client, so a
reconnect never sends through a client of the old pool."""

from kombu import Connection

import dashboard.celery  # noqa: F401  (applies the fixes, as the worker and the web do)


def test_a_channel_keeps_one_client_per_pool_and_it_works(redis_server):
    with Connection(redis_server.url) as connection:
        channel = connection.default_channel
        with channel.conn_or_acquire() as first, channel.conn_or_acquire() as second:
            assert first is second
            assert first.connection_pool is channel.pool
            first.set("kombu-kept-client", "1")
            assert second.get("kombu-kept-client") == b"1"

        # What kombu does when the connection to Redis is lost: its pools are dropped and
        # made again on the next use.
        old_pool = channel.pool
        channel._pool = None
        with channel.conn_or_acquire() as after:
            assert after is not first
            assert after.connection_pool is channel.pool is not old_pool
            assert after.get("kombu-kept-client") == b"1"
        old_pool.disconnect()


def test_a_client_given_by_the_caller_is_used_as_it_is(redis_server):
    with Connection(redis_server.url) as connection:
        channel = connection.default_channel
        own = channel._create_client()
        with channel.conn_or_acquire(own) as used:
            assert used is own


def test_a_task_published_and_acknowledged_through_the_kept_client(redis_server):
    with Connection(redis_server.url) as connection:
        queue = connection.SimpleQueue("kombu-kept-client-queue")
        queue.put({"n": 1})
        message = queue.get(timeout=10)
        assert message.payload == {"n": 1}
        message.ack()
        channel = queue.channel
        with channel.conn_or_acquire() as client:
            # Nothing left unacknowledged, nothing left in the queue.
            assert client.hlen(channel.unacked_key) == 0
            assert client.llen("kombu-kept-client-queue") == 0
        queue.close()
