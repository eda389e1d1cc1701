"""Every change to rules and channels, from the pages, the admin or the command, goes through
here so that it is audited the same way. Channel URLs hold secrets: the audit trail only ever
gets them masked."""

from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from alerts import delivery, messages
from alerts.models import Channel, Notification, Rule
from invocations.access import audit
from invocations.access.actor import Actor
from invocations.models import FailureGroup


def rule_details(rule: Rule) -> dict:
    return {
        "on": rule.describe(),
        "enabled": rule.enabled,
        "environment": rule.environment.name,
        "channels": [f"{c.name} {c.masked_url}" for c in rule.channels.all()],
        "functions": rule.function_patterns,
        "error_types": rule.error_types,
        "kinds": rule.kinds,
    }


def prepare_new_rule(rule: Rule) -> None:
    """A new rule speaks about what happens from now on: groups and regressions from before
    it existed are not news."""
    rule.created_at = timezone.now()
    newest = FailureGroup.objects.filter(environment=rule.environment).aggregate(n=Max("pk"))["n"]
    rule.first_group_id = newest or 0


def rule_saved(rule: Rule, created: bool, changed: list[str], actor: Actor) -> None:
    verb = "created" if created else "changed"
    audit.record(
        "alert.rule.create" if created else "alert.rule.change",
        target=rule,
        summary=f"{verb} alert rule {rule.name} ({rule.describe()})",
        details={**rule_details(rule), "changed": changed},
        actor=actor,
    )


def rule_deleted(rule: Rule, actor: Actor) -> None:
    audit.record(
        "alert.rule.delete",
        target=rule,
        summary=f"deleted alert rule {rule.name}",
        details=rule_details(rule),
        actor=actor,
    )


def channel_saved(channel: Channel, created: bool, changed: list[str], actor: Actor) -> None:
    verb = "created" if created else "changed"
    audit.record(
        "alert.channel.create" if created else "alert.channel.change",
        target=channel,
        summary=f"{verb} alert channel {channel.name} ({channel.masked_url})",
        details={"url": channel.masked_url, "enabled": channel.enabled, "changed": changed},
        actor=actor,
    )


def channel_deleted(channel: Channel, actor: Actor) -> None:
    audit.record(
        "alert.channel.delete",
        target=channel,
        summary=f"deleted alert channel {channel.name} ({channel.masked_url})",
        details={"url": channel.masked_url},
        actor=actor,
    )


def send_test(channel: Channel, actor: Actor, enqueue: bool = True) -> Notification:
    """A test notification to `channel`, delivered by the worker after the commit (or by the
    caller, with enqueue=False, e.g. the command that shows the result at once)."""
    payload = messages.test_payload(channel)
    with transaction.atomic():
        notification = Notification.objects.create(
            channel=channel, event="test", title=payload["title"], payload=payload
        )
        audit.record(
            "alert.channel.test",
            target=channel,
            summary=f"sent a test notification to {channel.name} ({channel.masked_url})",
            details={"notification": notification.pk},
            actor=actor,
        )
        if enqueue:
            delivery.enqueue_on_commit(notification.pk)
    return notification
