"""Celery tasks: thin wrappers that take primary keys; the work lives in plain modules that
tests call directly."""

import logging

from celery import shared_task

log = logging.getLogger(__name__)


# --- Queue polling and retention (ingestion issue). ---------------------------------------------


@shared_task(name="invocations.tasks.poll_queues")
def poll_queues() -> int:
    """Beat, every POLL_INTERVAL_SECONDS: drain every enabled watched queue. Queues another
    worker holds are skipped (WatchedQueue.claim), so overlapping runs never read one twice."""
    from invocations import polling

    return polling.poll_all().stored


@shared_task(name="invocations.tasks.poll_queue")
def poll_queue(queue_id: int) -> int:
    """The "Poll now" button: drain one queue."""
    from invocations import polling
    from invocations.models import WatchedQueue

    queue = WatchedQueue.objects.select_related("environment").filter(pk=queue_id).first()
    if queue is None:
        return 0
    return polling.poll_queue(queue).stored


@shared_task(name="invocations.tasks.purge_old_records")
def purge_old_records() -> int:
    """Daily: delete records older than RECORD_RETENTION_DAYS (audited, as the system)."""
    from invocations import polling

    return polling.purge_old_records()


@shared_task(name="invocations.tasks.run_replay_batch")
def run_replay_batch(batch_id: int) -> None:
    """Replay a confirmed batch of records (see invocations.replay)."""
    from invocations import replay

    replay.run_batch(batch_id)
