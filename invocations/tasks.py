"""Celery tasks: thin wrappers that take primary keys; the work lives in the use-case modules
that tests call directly. The use cases send these tasks by name (invocations.ops.sending), so they
never import this module."""

import logging

from celery import shared_task

from invocations.access import redaction, reredaction
from invocations.ingest import discovery, polling, redrive, retention
from invocations.invoking import inventory, lifecycle, monitor, replay
from invocations.models import Environment, Invocation, WatchedQueue
from invocations.ops import lost_tasks, workers

log = logging.getLogger(__name__)


@shared_task(name="invocations.tasks.run_invocation")
def run_invocation(pk: int, attempt: int = 1) -> None:
    """Invoke the function of Invocation `pk` (see invocations.invoking.lifecycle). A throttled
    attempt is scheduled again with a countdown instead of sleeping in the worker."""
    retry = lifecycle.run(pk, attempt)
    if retry is None:
        return
    try:
        run_invocation.apply_async((pk, retry.attempt), countdown=retry.delay)
    except Exception as exc:  # the broker went away between two attempts
        log.exception("invocation %s: could not schedule attempt %s", pk, retry.attempt)
        Invocation.objects.filter(pk=pk, attempts=attempt).update(
            status=Invocation.Status.FAILED,
            error_code="RetryNotScheduled",
            **redaction.copies(
                "Invocation",
                {"error_text": f"Throttled, and the next attempt could not be scheduled: {exc}"},
            ),
        )


@shared_task(name="invocations.tasks.requeue_unsent")
def requeue_unsent() -> int:
    """Beat: send the invocations and replay batches that were saved while the broker was
    down, and the invocations whose task the broker lost (lost_tasks)."""

    return lifecycle.requeue_unsent() + replay.requeue_unsent() + lost_tasks.requeue_lost()


@shared_task(name="invocations.tasks.sync_functions")
def sync_functions(environment_id: int | None = None) -> None:
    """Refresh the function inventory of one environment, or of all of them (beat)."""

    environments = Environment.objects.all()
    if environment_id is not None:
        environments = environments.filter(pk=environment_id)
    for environment in environments:
        inventory.sync(environment)


@shared_task(name="invocations.tasks.poll_queues")
def poll_queues() -> int:
    """Beat, every POLL_INTERVAL_SECONDS: drain every enabled watched queue. Queues another
    worker holds are skipped (WatchedQueue.claim), so overlapping runs never read one twice."""

    return polling.poll_all().stored


@shared_task(name="invocations.tasks.poll_queue")
def poll_queue(queue_id: int) -> int:
    """The "Poll now" button: drain one queue."""

    queue = WatchedQueue.objects.select_related("environment").filter(pk=queue_id).first()
    if queue is None:
        return 0
    return polling.poll_queue(queue).stored


@shared_task(name="invocations.tasks.measure_queue_depths")
def measure_queue_depths() -> int:
    """Beat: store each watched queue's approximate depth for /metrics."""
    from invocations.ingest import queue_depths

    return queue_depths.measure_all()


@shared_task(name="invocations.tasks.purge_old_records")
def purge_old_records() -> int:
    """Daily: delete records older than RECORD_RETENTION_DAYS (audited, as the system)."""

    return retention.purge_old_records()


@shared_task(name="invocations.tasks.run_replay_batch")
def run_replay_batch(batch_id: int) -> None:
    """Replay a confirmed batch of records (see invocations.invoking.replay)."""

    replay.run_batch(batch_id)


@shared_task(name="invocations.tasks.discover_queues")
def discover_queues(environment_id: int, user_id: int | None = None) -> None:
    """The "Discover" button: watch the queues the functions send to (see discovery.run)."""
    discovery.run(environment_id, user_id)


@shared_task(name="invocations.tasks.redrive_records")
def redrive_records(record_ids: list[int], queue_url: str, user_id: int | None = None) -> int:
    """Send dead letters back to a queue (see redrive.run)."""
    return redrive.run(record_ids, queue_url, user_id)


@shared_task(name="invocations.tasks.fetch_function_metrics")
def fetch_function_metrics(environment_id: int, function_name: str, range_key: str) -> None:
    """The Monitor panel: read a function's CloudWatch metrics (see monitor.fetch)."""
    monitor.fetch(environment_id, function_name, range_key)


@shared_task(name="invocations.tasks.inspect_workers")
def inspect_workers() -> None:
    """The Workers page: ask every worker for ping and stats (see workers.inspect)."""
    workers.inspect()


@shared_task(name="invocations.tasks.reredact")
def reredact() -> bool:
    """Beat, and each step of a pass: re-redact the stored copies when REDACT_KEYS changed (see
    reredaction.run)."""
    return reredaction.run()
