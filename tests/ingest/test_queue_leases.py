"""Leases on a queue: several pollers may drain one queue at once, at most
POLL_LEASES_PER_QUEUE of them, and a dead poller's slot comes back when its lease runs out."""

from datetime import timedelta

import pytest
from django.utils import timezone

from invocations.models import Environment, QueueLease, WatchedQueue


def _queue(name: str) -> WatchedQueue:
    return WatchedQueue.objects.create(
        environment=Environment.objects.default(),
        url=f"https://sqs.us-east-1.amazonaws.com/123456789012/{name}",
        kind="destination",
        function_name="orders",
    )


@pytest.mark.django_db
def test_it_gives_each_poller_its_own_slot_up_to_the_number_of_leases():
    queue = _queue("orders-dlq")

    leases = [queue.claim(60, slots=3) for _ in range(4)]

    assert [lease.slot for lease in leases[:3]] == [0, 1, 2]
    assert leases[3] is None
    assert QueueLease.objects.filter(queue=queue, until__isnull=False).count() == 3


@pytest.mark.django_db
def test_a_released_slot_is_taken_by_the_next_poller():
    queue = _queue("orders-dlq")
    first = queue.claim(60, slots=2)
    queue.claim(60, slots=2)

    first.release()
    again = queue.claim(60, slots=2)

    assert again.slot == first.slot
    assert again.holder != first.holder


@pytest.mark.django_db
def test_a_dead_pollers_slot_is_free_once_its_lease_ran_out():
    queue = _queue("orders-dlq")
    dead = queue.claim(60, slots=1)
    assert queue.claim(60, slots=1) is None

    QueueLease.objects.filter(queue=queue).update(until=timezone.now() - timedelta(seconds=1))
    taker = queue.claim(60, slots=1)

    assert taker is not None
    assert taker.slot == dead.slot


@pytest.mark.django_db
def test_a_poller_whose_lease_was_taken_can_neither_renew_nor_release_it():
    queue = _queue("orders-dlq")
    slow = queue.claim(60, slots=1)
    QueueLease.objects.filter(queue=queue).update(until=timezone.now() - timedelta(seconds=1))
    taker = queue.claim(60, slots=1)

    renewed = slow.renew(60)
    slow.release()

    assert not renewed
    lease = QueueLease.objects.get(queue=queue, slot=0)
    assert lease.holder == taker.holder
    assert lease.until > timezone.now()
