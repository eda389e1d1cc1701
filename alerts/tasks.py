"""Celery tasks of the alerts, sent by name: thin wrappers over evaluator and delivery."""

import logging

from celery import shared_task

log = logging.getLogger(__name__)


@shared_task(name="alerts.tasks.evaluate")
def evaluate() -> int:
    """Beat, every ALERT_EVALUATE_SECONDS: fire what is due, and sweep undelivered ones."""
    from alerts import evaluator

    return evaluator.evaluate()


@shared_task(name="alerts.tasks.deliver")
def deliver(notification_id: int) -> None:
    """One delivery attempt; a failure that may pass is tried again later, with backoff."""
    from alerts import delivery

    delay = delivery.deliver(notification_id)
    if delay is not None:
        delivery.enqueue_later(notification_id, delay)
