"""Alerts reach real receivers (an SMTP server and an HTTP endpoint on this machine), once per
problem."""

import hashlib
import hmac
import json
from datetime import timedelta

import pytest
from django.utils import timezone

from alerts import delivery, evaluator
from alerts.channels import SIGNATURE_HEADER, TIMESTAMP_HEADER
from alerts.models import AlertState, Notification
from invocations.access.actor import Actor
from invocations.failures import grouping, triage
from invocations.models import ExecutionRecord, FailureGroup
from tests import factories
from tests.alerts_support import channel, deliver_all, evaluate_settled, rule, settled
from tests.conftest import free_port
from tests.receivers import SmtpReceiver, WebhookReceiver

pytestmark = pytest.mark.django_db


def _verify(secret: str, received) -> bool:
    timestamp = received.headers[TIMESTAMP_HEADER]
    expected = hmac.new(
        secret.encode(), f"{timestamp}.".encode() + received.body, hashlib.sha256
    ).hexdigest()
    return hmac.compare_digest(expected, received.headers[SIGNATURE_HEADER])


def test_a_new_group_sends_exactly_one_email_and_one_webhook_whose_signature_verifies():
    with SmtpReceiver() as smtp, WebhookReceiver() as hook:
        email = channel(smtp.mailto(), name="email")
        webhook = channel(hook.url, name="hook")
        rule(email, webhook)
        record = factories.failure_record(error_type="KeyError", message="'customer_id'")
        grouping.group_records([record])
        group = FailureGroup.objects.get()

        first = evaluator.evaluate()
        later = evaluator.evaluate(settled())
        deliver_all()
        again = evaluator.evaluate(settled() + timedelta(minutes=5))
        deliver_all()

        assert (first, later, again) == (0, 2, 0)
        assert len(smtp.messages) == 1
        assert smtp.messages[0].rcpt_tos == ["team@example.com"]
        assert b"KeyError" in smtp.messages[0].content
        assert len(hook.received) == 1
        got = hook.received[0]
        assert _verify(webhook.secret, got)
        body = json.loads(got.body)
        assert body["event"] == "new_group"
        assert body["rule"] == "everything"
        assert body["function"] == "orders"
        assert body["error"]["type"] == "KeyError"
        assert body["counts"]["total"] == 1
        assert body["first_seen"] and body["last_seen"]
        assert body["links"]["group"] == f"https://triage.example.com/groups/{group.pk}/"
        assert body["links"]["request"] == f"https://triage.example.com/records/{record.pk}/"


def test_a_signature_made_with_another_secret_does_not_verify():
    with WebhookReceiver() as hook:
        webhook = channel(hook.url, name="hook")
        rule(webhook)
        grouping.group_records([factories.failure_record()])

        evaluate_settled()
        deliver_all()

        assert not _verify("not-the-channel-secret", hook.received[0])
        assert _verify(webhook.secret, hook.received[0])


def test_a_thousand_failures_in_fifty_groups_within_a_minute_send_one_digest():
    with WebhookReceiver() as hook:
        rule(channel(hook.url, name="hook", digest_after=10))
        records = [
            factories.failure_record(error_type=f"Error{i % 50}", message=f"case {i % 50}")
            for i in range(1000)
        ]
        grouping.group_records(records)
        assert FailureGroup.objects.count() == 50

        evaluate_settled()
        deliver_all()

        assert len(hook.received) == 1
        body = json.loads(hook.received[0].body)
        assert body["event"] == "digest"
        assert body["count"] == 50
        assert sum(item["counts"]["total"] for item in body["items"]) == 1000
        assert Notification.objects.count() == 1
        assert Notification.objects.get().groups.count() == 50


def test_a_snoozed_group_sends_nothing():
    with WebhookReceiver() as hook:
        rule(channel(hook.url, name="hook"))
        grouping.group_records([factories.failure_record()])
        FailureGroup.objects.update(snoozed_until=timezone.now() + timedelta(hours=2))

        evaluate_settled()
        deliver_all()

        assert hook.received == []
        assert Notification.objects.count() == 0
        assert AlertState.objects.get().suppressed


def test_a_regression_sends_again_each_time(admin_user):
    with WebhookReceiver() as hook:
        rule(channel(hook.url, name="hook"), on_regression=True)
        grouping.group_records([factories.failure_record(version="3")])
        evaluate_settled()
        group = FailureGroup.objects.get()

        for version in ("4", "5"):
            triage.set_status(group, "resolved", Actor.person(admin_user), version=version)
            grouping.group_records([factories.failure_record(version=version)])
            group.refresh_from_db()
            assert group.regressed
            evaluator.evaluate()
        deliver_all()

        events = [json.loads(r.body)["event"] for r in hook.received]
        assert events == ["new_group", "regression", "regression"]


def test_a_receiver_answering_500_twice_then_200_gets_the_message_once_on_the_third_attempt():
    with WebhookReceiver(codes=[500, 500, 200]) as hook:
        rule(channel(hook.url, name="hook"))
        grouping.group_records([factories.failure_record()])
        evaluate_settled()
        pk = Notification.objects.get().pk

        delays = []
        for _attempt in range(3):
            # Each attempt at the moment its retry falls due: no waiting out the backoff.
            due = Notification.objects.get(pk=pk).next_attempt_at
            delay = delivery.deliver(pk, now=due)
            if delay is not None:
                delays.append(delay)

        notification = Notification.objects.get(pk=pk)
        assert [r.answered for r in hook.received] == [500, 500, 200]
        assert len(hook.accepted) == 1
        assert hook.received[0].body == hook.received[2].body
        assert notification.status == Notification.Status.DELIVERED
        assert (notification.attempts, notification.response_code) == (3, 200)
        assert len(delays) == 2 and delays[1] > delays[0]  # backoff grows


def test_a_receiver_that_is_down_leaves_a_failed_delivery_on_the_pages_and_ingestion_goes_on(
    client, admin_user, settings
):
    down = channel(f"http://127.0.0.1:{free_port()}/hook", name="down")
    rule(down)
    grouping.group_records([factories.failure_record()])
    evaluate_settled()

    deliver_all()

    notification = Notification.objects.get()
    assert notification.status == Notification.Status.FAILED
    assert notification.attempts == settings.ALERT_DELIVERY_ATTEMPTS
    assert "connection" in notification.error
    client.force_login(admin_user)
    page = client.get("/alerts/deliveries/").content.decode()
    assert f'data-notification="{notification.pk}"' in page
    assert "failed (given up)" in page
    health = client.get("/health/?format=json").json()
    assert health["checks"]["alerts"]["ok"] is False
    assert "down" in health["checks"]["alerts"]["reason"]

    # Ingestion and the other alerts carry on.
    grouping.group_records([factories.failure_record(error_type="TypeError")])
    assert ExecutionRecord.objects.filter(failure_group__isnull=False).count() == 2
    assert evaluate_settled() == 1


def test_the_group_page_says_who_was_notified(client, admin_user):
    with WebhookReceiver() as hook:
        rule(channel(hook.url, name="oncall-hook"))
        grouping.group_records([factories.failure_record()])
        evaluate_settled()
        deliver_all()
        group = FailureGroup.objects.get()
        client.force_login(admin_user)

        page = client.get(f"/groups/{group.pk}/").content.decode()

        assert "Notified" in page
        assert "oncall-hook" in page
        assert "delivered" in page


def test_the_poller_goes_on_storing_and_deleting_while_the_receiver_is_down():
    from moto import mock_aws

    from invocations import aws
    from invocations.ingest import polling
    from invocations.models import Environment
    from tests.ingest.test_polling import depth, destination_record, make_queue

    with mock_aws():
        aws.reset_clients()
        sqs = aws.client(Environment.objects.default(), "sqs")
        queue = make_queue(sqs, "orders-on-failure")
        rule(channel(f"http://127.0.0.1:{free_port()}/hook", name="down"))
        sqs.send_message(QueueUrl=queue.url, MessageBody=destination_record("req-1", order=-1))
        polling.poll_queue(queue)
        evaluate_settled()

        deliver_all()
        sqs.send_message(QueueUrl=queue.url, MessageBody=destination_record("req-2", order=-2))
        result = polling.poll_queue(queue)

        failed = Notification.objects.get()
        assert (failed.status, failed.error) == ("failed", "connection refused or lost")
        assert result.stored == 1 and result.error in ("", None)
        assert ExecutionRecord.objects.filter(failure_group__isnull=False).count() == 2
        assert depth(sqs, queue) == 0
    aws.reset_clients()
