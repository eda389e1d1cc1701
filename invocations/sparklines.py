"""Per-group occurrence counts by hour (24 h) and by day (14 days) for the triage page, in a
fixed number of queries whatever the number of groups shown."""

from collections import defaultdict
from datetime import UTC, timedelta

from django.db.models import Count
from django.db.models.functions import TruncDay, TruncHour
from django.utils import timezone

from invocations import events
from invocations.models import ExecutionRecord, Invocation


def _counts(rows, time_field: str, group_ids, since, trunc) -> dict:
    rows = (
        rows.filter(failure_group_id__in=group_ids, **{f"{time_field}__gte": since})
        .annotate(bucket=trunc(time_field, tzinfo=UTC))
        .values("failure_group_id", "bucket")
        .annotate(n=Count("id"))
        .order_by()
    )
    counts: dict = defaultdict(dict)
    for row in rows:
        counts[row["failure_group_id"]][row["bucket"]] = row["n"]
    return counts


def _series(per_bucket: dict, start, step: timedelta, length: int) -> list[int]:
    series = [0] * length
    for bucket, n in per_bucket.items():
        index = int((bucket - start) / step)
        if 0 <= index < length:
            series[index] += n
    return series


def for_groups(group_ids: list[int]) -> dict[int, dict[str, list[int]]]:
    """{group id: {"hours": 24 counts, "days": 14 counts}}, oldest first. Four queries.
    Failed events are counted, each at its first record (events.py)."""
    records = events.first_in_group(ExecutionRecord.objects.all())
    invocations = Invocation.objects.all()
    now = timezone.now().astimezone(UTC)
    hour0 = now.replace(minute=0, second=0, microsecond=0) - timedelta(hours=23)
    day0 = now.replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=13)
    hourly = [
        _counts(records, "received_at", group_ids, hour0, TruncHour),
        _counts(invocations, "created_at", group_ids, hour0, TruncHour),
    ]
    daily = [
        _counts(records, "received_at", group_ids, day0, TruncDay),
        _counts(invocations, "created_at", group_ids, day0, TruncDay),
    ]
    result = {}
    for pk in group_ids:
        hours = [0] * 24
        days = [0] * 14
        for counts in hourly:
            hours = [
                a + b
                for a, b in zip(
                    hours, _series(counts.get(pk, {}), hour0, timedelta(hours=1), 24), strict=True
                )
            ]
        for counts in daily:
            days = [
                a + b
                for a, b in zip(
                    days, _series(counts.get(pk, {}), day0, timedelta(days=1), 14), strict=True
                )
            ]
        result[pk] = {"hours": hours, "days": days}
    return result


def points(values: list[int], width: int = 96, height: int = 20) -> str:
    """An SVG polyline's points for `values`, scaled to the box (0 at the bottom)."""
    if not values:
        return ""
    top = max(values) or 1
    step = width / max(1, len(values) - 1)
    return " ".join(
        f"{i * step:.1f},{height - 1 - (v / top) * (height - 2):.1f}" for i, v in enumerate(values)
    )
