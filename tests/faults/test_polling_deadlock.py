"""A batch whose transaction PostgreSQL rolls back to break a deadlock is stored again, not
lost and not left as an error on the queue."""

import logging
import threading

import pytest
from django.db import connection, connections, transaction

from invocations.ingest import polling
from invocations.models import Environment, ExecutionRecord, FailureGroup, WatchedQueue
from tests.ingest.test_polling import destination_record
from tests.waiting import wait_until


def _messages(count: int) -> list[dict]:
    return [
        {"MessageId": f"m-{n}", "Body": destination_record(f"request-{n}", -n)}
        for n in range(1, count + 1)
    ]


def _waiting_for_a_lock() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return cursor.fetchone()[0]


@pytest.mark.postgres
@pytest.mark.timeout(60)
def test_a_batch_rolled_back_to_break_a_deadlock_is_stored_again(transactional_db, caplog):
    queue = WatchedQueue.objects.create(
        environment=Environment.objects.default(),
        url="https://sqs.us-east-1.amazonaws.com/123456789012/orders-on-failure",
        kind="destination",
        function_name="orders",
    )
    polling.store_batch(queue, _messages(1))  # the group exists from now on
    group = FailureGroup.objects.get()
    holding_queue = threading.Event()

    def other_transaction():
        # Holds the queue's row, then wants the group that the batch below holds while it
        # waits for the queue's row: each waits for the other.
        try:
            with transaction.atomic():
                # NO KEY: the batch's inserts may still reference the row, its UPDATE may not.
                WatchedQueue.objects.select_for_update(no_key=True).get(pk=queue.pk)
                holding_queue.set()
                wait_until(lambda: _waiting_for_a_lock() >= 1, timeout=20)
                FailureGroup.objects.select_for_update().get(pk=group.pk)
        finally:
            connections.close_all()

    other = threading.Thread(target=other_transaction)
    other.start()
    holding_queue.wait(10)
    with caplog.at_level(logging.WARNING, logger="invocations.ingest.polling"):
        stored = polling.store_batch(queue, _messages(11)[1:])
    other.join(20)

    assert stored == 10
    assert ExecutionRecord.objects.filter(queue=queue).count() == 11
    group.refresh_from_db()
    assert group.count == 11
    assert "PostgreSQL broke a deadlock" in caplog.text
