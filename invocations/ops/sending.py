"""Sending Celery tasks once the transaction that asked for them has committed, without turning
a broker outage into a 500 for a change that was already saved.

`delay_on_commit` raises from the commit when Redis does not answer: the row and its audit event
are saved, yet the person sees an error page and the work is never sent. Here the failure is
logged and reported to a callback that marks the row, so that a beat task can send it later
(invocations and replay batches), or is simply logged when beat repeats the work anyway
(inventory refresh, queue polls).

Tasks are sent by name, so the use cases never import `invocations.tasks` (which imports them):
no import circle, and `tasks.py` stays a thin layer of wrappers."""

import logging
from collections.abc import Callable
from typing import Any

from celery import current_app
from django.db import transaction
from django.db.models import QuerySet

log = logging.getLogger(__name__)

# The names under which invocations/tasks.py registers its tasks.
RUN_INVOCATION = "invocations.tasks.run_invocation"
RUN_REPLAY_BATCH = "invocations.tasks.run_replay_batch"
SYNC_FUNCTIONS = "invocations.tasks.sync_functions"
POLL_QUEUE = "invocations.tasks.poll_queue"
DISCOVER_QUEUES = "invocations.tasks.discover_queues"
REDRIVE_RECORDS = "invocations.tasks.redrive_records"
FETCH_FUNCTION_METRICS = "invocations.tasks.fetch_function_metrics"
INSPECT_WORKERS = "invocations.tasks.inspect_workers"
REREDACT = "invocations.tasks.reredact"


def send(task: str, *args: Any, on_failure: Callable[[Exception], None] | None = None) -> bool:
    """Send the task named `task` with `args` now; False (after `on_failure`) when the broker
    does not take it."""
    try:
        current_app.send_task(task, args=args)
    except Exception as exc:  # kombu.exceptions.OperationalError, redis ConnectionError, ...
        log.warning("the broker did not take %s%r: %s", task, args, exc)
        if on_failure is not None:
            on_failure(exc)
        return False
    return True


def resend(
    marked: QuerySet[Any], unmark: dict[str, Any], send_one: Callable[[int], bool], limit: int
) -> int:
    """Send again the rows of `marked` (a queryset of rows whose task the broker refused, oldest
    first); beat calls this. Each row is unmarked first, conditionally (`unmark`: the fields
    that clear the mark), so two requeuers never send the same row; `send_one(pk)` sends it and
    marks it again if the broker refuses, which stops the round. Only marked rows: a row merely
    waiting in a busy broker is never sent twice."""
    sent = 0
    for pk in list(marked.order_by("id").values_list("pk", flat=True)[:limit]):
        if not marked.filter(pk=pk).update(**unmark):
            continue
        if not send_one(pk):
            break
        sent += 1
    return sent


def send_on_commit(
    task: str, *args: Any, on_failure: Callable[[Exception], None] | None = None
) -> None:
    """send() once the current transaction commits (at once outside one)."""
    transaction.on_commit(lambda: send(task, *args, on_failure=on_failure))
