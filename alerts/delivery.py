"""Delivering notifications, in the worker: one attempt per task run, claimed with a conditional
UPDATE (two workers never send one notification twice at once), retried with exponential
backoff on failures that may pass (5xx, timeouts, refused connections), given up after
ALERT_DELIVERY_ATTEMPTS and left on the Deliveries page as failed."""

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from alerts import channels
from alerts.models import Notification
from invocations.access.redaction import redact_text

log = logging.getLogger(__name__)

N = Notification.Status
# A worker that dies while sending leaves the notification "sending"; after this the sweep
# hands it out again.
SENDING_LEASE = timedelta(minutes=2)
# A pending notification whose task has not run by then was probably never taken by the
# broker: the sweep sends it again (a duplicate task finds it claimed, and does nothing).
SWEEP_GRACE = timedelta(seconds=60)
DELIVER_TASK = "alerts.tasks.deliver"


def backoff(attempt: int) -> float:
    """Seconds to wait after failed attempt number `attempt` (1, 2, ...)."""
    seconds: float = min(settings.ALERT_RETRY_CAP, settings.ALERT_RETRY_BASE * 2 ** (attempt - 1))
    return seconds


def enqueue(pk: int, countdown: float = 0) -> bool:
    """Send the delivery task by name; False when the broker did not take it (the sweep will)."""
    from dashboard.celery import app

    try:
        app.send_task(DELIVER_TASK, args=[pk], countdown=countdown or None)
    except Exception as exc:  # kombu's OperationalError, redis errors: the sweep tries again
        log.warning("the broker did not take the delivery of notification %s: %s", pk, exc)
        return False
    return True


def enqueue_later(pk: int, delay: float) -> None:
    """The next attempt; if the broker refuses it, the sweep sends it once it is due."""
    enqueue(pk, countdown=delay)


def enqueue_on_commit(pk: int) -> None:
    transaction.on_commit(lambda: enqueue(pk))


def deliver(pk: int, now: datetime | None = None) -> float | None:
    """Make one attempt at notification `pk` if it is due. Returns the seconds until the next
    attempt when it failed and may be tried again, else None."""
    now = now or timezone.now()
    claimed = Notification.objects.filter(
        pk=pk, status__in=[N.PENDING, N.RETRYING], next_attempt_at__lte=now
    ).update(status=N.SENDING, attempts=F("attempts") + 1, next_attempt_at=now + SENDING_LEASE)
    if not claimed:
        return None
    notification = Notification.objects.select_related("channel").get(pk=pk)
    channel = notification.channel
    if not channel.enabled:
        outcome = channels.Outcome(False, error="the channel is disabled")
    else:
        outcome = channels.send(channel, notification.title, notification.payload)
    done = timezone.now()
    # What a receiver or apprise answered is shown on the Deliveries page and logged: redacted.
    error = redact_text(outcome.error)
    fields: dict[str, object] = {"response_code": outcome.code, "error": error}
    if outcome.ok:
        fields.update(status=N.DELIVERED, delivered_at=done, finished_at=done)
        delay = None
    elif outcome.retryable and notification.attempts < settings.ALERT_DELIVERY_ATTEMPTS:
        delay = backoff(notification.attempts)
        fields.update(status=N.RETRYING, next_attempt_at=done + timedelta(seconds=delay))
    else:
        fields.update(status=N.FAILED, finished_at=done)
        delay = None
        log.warning("gave up notification %s to %s: %s", pk, channel.name, error)
    Notification.objects.filter(pk=pk, status=N.SENDING).update(**fields)
    return delay


def sweep(now: datetime | None = None) -> int:
    """Beat: hand out again what a dead worker held, and send what the broker never took."""
    now = now or timezone.now()
    Notification.objects.filter(status=N.SENDING, next_attempt_at__lt=now).update(status=N.RETRYING)
    due = Notification.objects.filter(
        status__in=[N.PENDING, N.RETRYING], next_attempt_at__lt=now - SWEEP_GRACE
    ).values_list("pk", flat=True)[:500]
    return sum(enqueue(pk) for pk in due)
