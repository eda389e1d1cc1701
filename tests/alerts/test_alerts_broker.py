"""A notification crosses the real Redis broker to a real Celery worker, which delivers it."""

import json

import pytest
from django.db import transaction
from django.utils import timezone

from alerts import changes, evaluator
from alerts.models import Notification
from invocations.access.actor import SYSTEM
from invocations.failures import grouping
from tests import factories
from tests.alerts_support import channel, rule, settled
from tests.receivers import WebhookReceiver
from tests.waiting import wait_until


@pytest.mark.broker
def test_a_test_notification_is_delivered_by_the_worker_after_the_commit(celery_worker):
    with WebhookReceiver() as hook:
        made = channel(hook.url, name="hook")

        with transaction.atomic():
            notification = changes.send_test(made, actor=SYSTEM)
            assert hook.received == []  # nothing is sent before the commit

        wait_until(
            lambda: Notification.objects.get(pk=notification.pk).status == "delivered", timeout=30
        )
        assert json.loads(hook.received[0].body)["event"] == "test"


@pytest.mark.broker
def test_a_new_group_is_delivered_through_the_worker_with_retries(celery_worker):
    with WebhookReceiver(codes=[503]) as hook:
        rule(channel(hook.url, name="hook"))
        with transaction.atomic():  # as the poller does: it locks the group
            grouping.group_records([factories.failure_record()])
        now = timezone.now()
        evaluator.evaluate(now)

        evaluator.evaluate(settled(now))

        wait_until(lambda: Notification.objects.get().status == "delivered", timeout=30)
        assert [r.answered for r in hook.received] == [503, 200]
        assert Notification.objects.get().attempts == 2


@pytest.mark.broker
def test_the_evaluate_task_sent_by_name_fires_and_the_worker_delivers(celery_worker, settings):
    settings.ALERT_SETTLE_SECONDS = 0
    with WebhookReceiver() as hook:
        rule(channel(hook.url, name="hook"))
        with transaction.atomic():  # as the poller does: it locks the group
            grouping.group_records([factories.failure_record()])

        celery_worker.send_task("alerts.tasks.evaluate")

        wait_until(lambda: len(hook.accepted) == 1, timeout=30)
        assert json.loads(hook.received[0].body)["event"] == "new_group"
        assert Notification.objects.get().status == "delivered"
