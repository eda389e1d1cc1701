"""What leaves the dashboard is redacted: a channel's members may have no account at all, and a
channel never holds the raw-payload permission."""

import json

import pytest

from alerts import messages
from alerts.models import Notification
from invocations.failures import grouping
from tests import factories
from tests.alerts_support import channel, deliver_all, evaluate_settled, rule
from tests.receivers import SmtpReceiver, WebhookReceiver

pytestmark = pytest.mark.django_db

SECRETS = ["hunter2", "tok-abc", "pa55"]


def test_the_webhook_email_and_deliveries_page_carry_no_secret(client, bob):
    with SmtpReceiver() as smtp, WebhookReceiver() as hook:
        rule(channel(smtp.mailto(), name="email"), channel(hook.url, name="hook"))
        message = (
            "login failed: Settings(db_password='hunter2') token=tok-abc "
            "via https://ann:pa55@db.internal/orders"
        )
        grouping.group_records([factories.failure_record(message=message)])

        evaluate_settled()
        deliver_all()

        sent = [r.body.decode() for r in hook.received] + [
            m.content.decode() for m in smtp.messages
        ]
        stored = [json.dumps(n.payload) + n.title for n in Notification.objects.all()]
        client.force_login(bob)
        page = client.get("/alerts/deliveries/").content.decode()

    assert len(sent) == 2
    for text in [*sent, *stored, page]:
        assert [s for s in SECRETS if s in text] == []
    assert "[redacted]" in json.loads(hook.received[0].body)["error"]["message"]


def test_a_failing_queues_last_error_is_redacted_in_what_is_sent():
    queue = factories.queue()
    queue.last_error = "could not reach https://svc:hunter2@sqs.internal/q"

    facts = messages.queue_facts(queue)
    text = messages.as_text({"rule": "r", "queue": facts})

    assert "hunter2" not in json.dumps(facts) and "hunter2" not in text
