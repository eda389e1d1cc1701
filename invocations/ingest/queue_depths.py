"""The approximate depth of each watched queue, measured on a schedule and stored, so that
/metrics answers from the database and never waits on AWS."""

import logging

from django.utils import timezone

from invocations import aws
from invocations.models import WatchedQueue

log = logging.getLogger(__name__)


def store(queue: WatchedQueue, depth: dict[str, int]) -> None:
    WatchedQueue.objects.filter(pk=queue.pk).update(
        depth_visible=depth["visible"],
        depth_in_flight=depth["in_flight"],
        depth_checked_at=timezone.now(),
    )


def measure_all() -> int:
    """Measure every enabled queue (one GetQueueAttributes each, outside any transaction).
    A queue that cannot be measured keeps its last value and time; returns how many were."""
    measured = 0
    for queue in WatchedQueue.objects.filter(enabled=True).select_related("environment"):
        try:
            depth = aws.queue_depth(queue.environment, queue.url)
        except aws.AwsError as error:
            log.warning("depth of %s: %s", queue, error)
            continue
        store(queue, depth)
        measured += 1
    return measured
