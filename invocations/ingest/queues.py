"""Watched queues: watch, enable or disable, poll now, and depth, each with its audit event.

Shared by the Queues page, the admin and the `watch_queue` command, so that a queue changed in
any of them leaves the same trail. The actor is a person or the system (a management
command)."""

from django.db import transaction
from django.db.models import QuerySet

from invocations import aws
from invocations.access import audit
from invocations.access.actor import Actor
from invocations.ingest import queue_depths
from invocations.models import Environment, WatchedQueue
from invocations.ops import sending


def watch(
    environment: Environment,
    url: str,
    kind: str,
    function: str,
    *,
    actor: Actor,
    via: str = "",
) -> tuple[WatchedQueue, bool]:
    """Watch `url` (or update the queue already watched there) and enable it. Validates the row
    (raises django's ValidationError); returns the queue and whether it was created."""
    with transaction.atomic():
        found = WatchedQueue.objects.filter(environment=environment, url=url).first()
        created = found is None
        queue = found if found is not None else WatchedQueue(environment=environment, url=url)
        queue.kind, queue.function_name, queue.enabled = kind, function, True
        queue.full_clean()
        queue.save()
        audit.record(
            "queue.watch",
            actor=actor,
            target=queue,
            summary=f"{'Watched' if created else 'Updated'} queue {queue.name} ({kind})"
            + (f" {via}" if via else ""),
            details={"url": url, "kind": kind, "function": function, "created": created},
        )
    return queue, created


# SQS's codes for a queue that is not there (the JSON and the query protocol word it apart).
_MISSING = {"AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist"}


def problem_with(environment: Environment, url: str) -> str:
    """Why `url` cannot be watched ("" when it can): one GetQueueAttributes call, so that a
    typo is refused on the form, not found later as a queue whose every poll fails."""
    try:
        aws.queue_depth(environment, url)
    except aws.AwsError as failure:
        if failure.code in _MISSING:
            return (
                f"There is no queue at this URL in {environment.name}: SQS says it does not exist."
            )
        return f"The queue could not be checked ({failure.code}: {failure.message[:200]})."
    return ""


def toggle(queue_id: int, queues: QuerySet[WatchedQueue], *, actor: Actor) -> WatchedQueue:
    """Enable or disable polling of one of `queues` (disabling is how a queue is unwatched: its
    records stay). Raises WatchedQueue.DoesNotExist."""
    with transaction.atomic(durable=True):
        queue = queues.select_for_update().get(pk=queue_id)
        queue.enabled = not queue.enabled
        queue.save(update_fields=["enabled"])
        audit.record(
            "queue.enable" if queue.enabled else "queue.disable",
            actor=actor,
            target=queue,
            summary=f"{'Enabled' if queue.enabled else 'Disabled'} polling of {queue.name}",
        )
    return queue


def poll_now(queue: WatchedQueue, *, actor: Actor) -> bool:
    """Send a poll of this queue to the worker once the audit event is committed. False when
    the broker did not take it (beat polls every enabled queue anyway)."""
    refused: list[Exception] = []
    with transaction.atomic(durable=True):
        audit.record("queue.poll", actor=actor, target=queue, summary=f"Polled {queue.name}")
        sending.send_on_commit(sending.POLL_QUEUE, queue.pk, on_failure=refused.append)
    return not refused


def depth(queue: WatchedQueue) -> tuple[dict[str, int] | None, str]:
    """The approximate depth of the queue (one short AWS call), or None and why not."""
    try:
        found = aws.queue_depth(queue.environment, queue.url)
    except aws.AwsError as failure:
        return None, str(failure)
    queue_depths.store(queue, found)  # what /metrics reports until beat measures again
    return found, ""


def saved_in_admin(queue: WatchedQueue, *, actor: Actor, created: bool, changed: list[str]) -> None:
    audit.record(
        "queue.watch" if created else "queue.change",
        actor=actor,
        target=queue,
        summary=f"{'watched' if created else 'changed'} queue {queue.name}",
        details={"changed": changed},
    )


def unwatch(queue: WatchedQueue, *, actor: Actor) -> None:
    """Delete the queue row and, with it, its records (the admin's delete)."""
    with transaction.atomic():
        audit.record(
            "queue.unwatch", actor=actor, target=queue, summary=f"unwatched queue {queue.name}"
        )
        queue.delete()
