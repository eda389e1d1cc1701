"""`manage.py alerts list | add | test`."""

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from alerts.models import Channel, Notification, Rule
from invocations.models import AuditEvent, Environment
from tests.receivers import WebhookReceiver

pytestmark = pytest.mark.django_db


def _run(*args) -> str:
    out = StringIO()
    call_command("alerts", *args, stdout=out)
    return out.getvalue()


def test_add_makes_a_rule_with_its_channel_and_list_shows_it_masked():
    Environment.objects.default()

    added = _run(
        "add",
        "--name",
        "orders-alerts",
        "--on",
        "new_group,regression,spike:50/5",
        "--channel",
        "https://hooks.example.com/hook/secret-abc123",
        "--function",
        "orders-*",
    )
    listed = _run("list")

    rule = Rule.objects.get()
    assert (rule.on_new_group, rule.on_regression) == (True, True)
    assert (rule.spike_count, rule.spike_minutes) == (50, 5)
    assert rule.function_patterns == "orders-*"
    assert rule.channels.get().url == "https://hooks.example.com/hook/secret-abc123"
    assert "Added rule orders-alerts" in added
    assert "orders-alerts" in listed and "new_group,regression,spike:50/5" in listed
    assert "secret-abc123" not in listed
    assert set(AuditEvent.objects.values_list("action", flat=True)) == {
        "alert.rule.create",
        "alert.channel.create",
    }
    assert "secret-abc123" not in str(list(AuditEvent.objects.values("summary", "details")))


def test_add_refuses_conditions_it_cannot_read_and_unknown_environments():
    with pytest.raises(CommandError, match="Cannot read 'spike:5'"):
        _run("add", "--name", "x", "--on", "spike:5", "--channel", "json://127.0.0.1/x")
    with pytest.raises(CommandError, match="No environment"):
        _run(
            "add", "--name", "x", "--on", "new_group", "--channel", "json://127.0.0.1/x",
            "--environment", "nowhere",
        )  # fmt: skip
    with pytest.raises(CommandError, match="Not a channel URL"):
        _run("add", "--name", "x", "--on", "new_group", "--channel", "nonsense://x")
    assert not Rule.objects.exists()
    assert not Channel.objects.exists()


def test_test_sends_a_signed_test_notification_and_says_how_it_went():
    Environment.objects.default()
    with WebhookReceiver() as hook:
        _run("add", "--name", "try-me", "--on", "new_group", "--channel", hook.url)

        out = _run("test", "try-me")

        assert "try-me: delivered" in out
        assert json.loads(hook.received[0].body)["event"] == "test"
        assert Notification.objects.get().status == "delivered"
        assert AuditEvent.objects.filter(action="alert.channel.test").count() == 1


def test_test_of_an_unknown_rule_is_an_error():
    with pytest.raises(CommandError, match="No rule named 'nope'"):
        _run("test", "nope")


def test_test_with_a_receiver_that_is_down_fails_after_one_attempt():
    from tests.conftest import free_port

    Environment.objects.default()
    _run(
        "add",
        "--name",
        "down",
        "--on",
        "new_group",
        "--channel",
        f"http://127.0.0.1:{free_port()}/x",
    )

    with pytest.raises(CommandError, match="1 channel"):
        _run("test", "down")

    notification = Notification.objects.get()
    assert (notification.status, notification.attempts) == ("failed", 1)
