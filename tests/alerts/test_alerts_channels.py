"""Channel URLs never show their secrets; answers that will not change are not retried."""

import pytest

from alerts import channels, delivery
from alerts.models import Channel, Notification, mask_url
from tests.receivers import WebhookReceiver


@pytest.mark.parametrize(
    ("url", "masked"),
    [
        ("slack://T1/B2/xoxbSecret/#alerts", "slack://•••"),
        ("mailtos://alerts:hunter2@smtp.example.com?to=team@example.com", "mailtos://•••"),
        ("https://hooks.example.com/services/secret-path", "https://hooks.example.com/•••"),
        ("https://user:pw@hooks.example.com/x", "https://hooks.example.com/•••"),
        ("not a url at all", "?://•••"),
    ],
)
def test_a_masked_url_keeps_only_the_scheme_and_a_web_host(url, masked):
    assert mask_url(url) == masked


def test_an_error_message_loses_every_piece_of_the_url_that_could_be_a_secret():
    url = "mailtos://alerts:hunter22@smtp.example.com?to=team@example.com"

    text = channels.scrub('Authentication failed for alerts:hunter22 at "smtp.example.com"', url)

    assert "hunter22" not in text and "smtp.example.com" not in text


@pytest.mark.django_db
def test_a_receiver_refusing_with_a_4xx_is_given_up_at_once():
    with WebhookReceiver(codes=[403]) as hook:
        channel = Channel.objects.create(name="hook", url=hook.url)
        notification = Notification.objects.create(channel=channel, event="test", title="t")

        delay = delivery.deliver(notification.pk)

        notification.refresh_from_db()
        assert delay is None
        assert (notification.status, notification.attempts) == ("failed", 1)
        assert (notification.response_code, notification.error) == (403, "answered HTTP 403")
        assert len(hook.received) == 1


@pytest.mark.django_db
def test_a_notification_is_claimed_once_so_a_second_task_sends_nothing():
    with WebhookReceiver() as hook:
        channel = Channel.objects.create(name="hook", url=hook.url)
        notification = Notification.objects.create(channel=channel, event="test", title="t")

        delivery.deliver(notification.pk)
        delivery.deliver(notification.pk)

        assert len(hook.received) == 1
        notification.refresh_from_db()
        assert (notification.status, notification.attempts) == ("delivered", 1)
