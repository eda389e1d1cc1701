"""Builders for the alerts tests."""

from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from alerts import changes, delivery, evaluator
from alerts.models import Channel, Notification, Rule
from invocations.models import Environment


def channel(url: str, name: str = "team", **fields) -> Channel:
    return Channel.objects.create(name=name, url=url, **fields)


def rule(*channels: Channel, name: str = "everything", **fields) -> Rule:
    fields.setdefault("on_new_group", True)
    made = Rule(name=name, environment=Environment.objects.default(), **fields)
    changes.prepare_new_rule(made)
    made.save()
    made.channels.set(channels)
    return made


def settled(now=None):
    """A moment after the settle window of groups noticed at `now`."""
    return (now or timezone.now()) + timedelta(seconds=settings.ALERT_SETTLE_SECONDS + 1)


def evaluate_settled() -> int:
    """Notice what is new, then evaluate again once it has settled."""
    now = timezone.now()
    evaluator.evaluate(now)
    return evaluator.evaluate(settled(now))


def deliver_all() -> list[Notification]:
    """Attempt every unfinished notification until each is delivered or given up, as the
    worker would, each retry at the moment it falls due (`deliver`'s `now`), so no test waits
    out a backoff."""
    finished = [Notification.Status.DELIVERED, Notification.Status.FAILED]
    for _attempt in range(settings.ALERT_DELIVERY_ATTEMPTS):
        open_ = Notification.objects.exclude(status__in=finished).order_by("id")
        for pk, due in open_.values_list("pk", "next_attempt_at"):
            delivery.deliver(pk, now=max(timezone.now(), due))
    return list(Notification.objects.order_by("id"))
