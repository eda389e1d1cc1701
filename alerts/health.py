"""The alerts' line on the Health page: a channel whose latest finished delivery failed."""

from invocations.ops.health import Check


def check_deliveries() -> Check:
    from alerts.models import Channel, Notification

    failing = []
    for channel in Channel.objects.filter(enabled=True):
        latest = (
            Notification.objects.filter(channel=channel, finished_at__isnull=False)
            .order_by("-finished_at", "-id")
            .only("status", "error")
            .first()
        )
        if latest is not None and latest.status == Notification.Status.FAILED:
            failing.append(f"{channel.name} ({latest.error or 'failed'})")
    if failing:
        # The dashboard runs, but nobody is told: degraded, not down.
        return Check("alerts", False, "delivery failed: " + "; ".join(failing)[:300], degrades=True)
    return Check("alerts", True, "deliveries going through")
