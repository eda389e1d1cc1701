"""Turning what fired into notifications: one per firing and channel, or a digest when a
storm would send too many."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from django.db import transaction
from django.utils import timezone

from alerts import delivery, messages
from alerts.models import Channel, Notification

if TYPE_CHECKING:
    from alerts.firing import Firing

DIGEST_WINDOW = timedelta(minutes=1)


def notify(firings: list[Firing], now: datetime) -> int:
    """One notification per firing and channel; but when more than a channel's `digest_after`
    groups fire within a minute (counting what it was sent in the last minute), one digest.
    A storm that goes on gets at most one digest a minute: what fires meanwhile is added to
    the next one, held until a minute after the last."""
    by_channel: dict[int, list[Firing]] = defaultdict(list)
    channels: dict[int, Channel] = {}
    of_rule: dict[int, list[Channel]] = {}
    for firing in firings:
        if firing.rule.pk not in of_rule:
            of_rule[firing.rule.pk] = list(firing.rule.channels.filter(enabled=True))
        for channel in of_rule[firing.rule.pk]:
            channels[channel.pk] = channel
            by_channel[channel.pk].append(firing)
    created = 0
    for pk, batch in by_channel.items():
        channel = channels[pk]
        last = (
            Notification.objects.filter(channel=channel, event="digest")
            .order_by("-id")
            .only("created_at", "send_after", "status")
            .first()
        )
        last_at = (last.send_after or last.created_at) if last else None
        if last_at is not None and last_at > now - DIGEST_WINDOW:
            created += _add_to_next_digest(channel, batch, now, last_at + DIGEST_WINDOW)
            continue
        recent = Notification.objects.filter(
            channel=channel, created_at__gte=now - DIGEST_WINDOW
        ).exclude(event="test")
        if recent.count() + len(batch) > channel.digest_after:
            _digest(channel, batch, now)
            created += 1
            continue
        for firing in batch:
            payload = firing.payload()
            notification = Notification.objects.create(
                rule=firing.rule,
                channel=channel,
                event=firing.condition,
                group=firing.group,
                queue=firing.queue,
                title=payload["title"],
                payload=payload,
                created_at=now,
            )
            if firing.group is not None:
                notification.groups.add(firing.group)
            delivery.enqueue_on_commit(notification.pk)
            created += 1
    return created


def _digest(
    channel: Channel, batch: list[Firing], now: datetime, send_after: datetime | None = None
) -> Notification:
    # The message lists the first ones in full; the count says how many there were.
    items = [firing.payload() for firing in batch[: messages.DIGEST_LIMIT]]
    rules = [firing.rule for firing in batch]
    payload = messages.digest_payload(
        rules[0].environment.name, [rule.name for rule in rules], items, len(batch)
    )
    groups = [firing.group for firing in batch if firing.group is not None]
    notification = Notification.objects.create(
        rule=rules[0] if len({rule.pk for rule in rules}) == 1 else None,
        channel=channel,
        event="digest",
        group=groups[0] if groups else None,
        title=payload["title"],
        payload=payload,
        created_at=now,
        send_after=send_after,
        next_attempt_at=send_after or timezone.now(),
    )
    notification.groups.add(*groups)
    if send_after is None:
        delivery.enqueue_on_commit(notification.pk)
    else:
        wait = max(0.0, (send_after - timezone.now()).total_seconds())
        transaction.on_commit(lambda: delivery.enqueue(notification.pk, countdown=wait))
    return notification


def _add_to_next_digest(
    channel: Channel, batch: list[Firing], now: datetime, send_after: datetime
) -> int:
    """Add `batch` to the channel's held digest, or hold a new one until `send_after`. Returns
    how many notifications were created (0 or 1)."""
    # Locked (and, on SQLite, the whole evaluation holds the write lock): the worker's claim of
    # this row waits for the commit, so what is added here is in the message it sends.
    held = (
        Notification.objects.select_for_update()
        .filter(channel=channel, event="digest", status=Notification.Status.PENDING)
        .filter(send_after__gt=now)
        .order_by("-id")
        .first()
    )
    if held is None:
        _digest(channel, batch, now, send_after=send_after)
        return 1
    payload = held.payload
    room = max(0, messages.DIGEST_LIMIT - len(payload["items"]))
    payload["items"] += [firing.payload() for firing in batch[:room]]
    payload["count"] += len(batch)
    names = set(payload["rule"].split(",")) | {firing.rule.name for firing in batch}
    payload["rule"] = ",".join(sorted(names - {""}))
    payload["title"] = messages.digest_title(payload["count"], payload["environment"])
    held.payload, held.title = payload, payload["title"]
    if held.rule_id and any(firing.rule.pk != held.rule_id for firing in batch):
        held.rule = None
    held.save(update_fields=["payload", "title", "rule"])
    held.groups.add(*[firing.group for firing in batch if firing.group is not None])
    return 0
