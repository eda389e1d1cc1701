"""The figures behind the charts: per-group occurrence sparklines by hour (24 h) and by day
(14 days) for the triage page, in a fixed number of queries whatever the number of groups shown;
and a function's invocations and failures per day for its page."""

from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db.models import Count, Q, QuerySet
from django.db.models.functions import TruncDate, TruncDay, TruncHour, TruncMinute
from django.utils import timezone

from invocations.failures import deploys
from invocations.models import Environment, ExecutionRecord, FailedEvent, Invocation


# Events are counted with COUNT(*), not COUNT(id): the (group, time) and (function, time) indexes
# then hold all a chart reads, and PostgreSQL can answer from the index alone, as SQLite does.
def _counts(
    rows: QuerySet[Any],
    group_ids: list[int],
    since: datetime,
    trunc: type[TruncHour] | type[TruncDay],
) -> dict[int, dict[datetime, int]]:
    rows = (
        rows.filter(group_id__in=group_ids, happened_at__gte=since)
        .annotate(bucket=trunc("happened_at", tzinfo=UTC))
        .values("group_id", "bucket")
        .annotate(n=Count("*"))
        .order_by()
    )
    counts: dict[int, dict[datetime, int]] = defaultdict(dict)
    for row in rows:
        counts[row["group_id"]][row["bucket"]] = row["n"]
    return counts


def _series(
    per_bucket: dict[datetime, int], start: datetime, step: timedelta, length: int
) -> list[int]:
    series = [0] * length
    for bucket, n in per_bucket.items():
        index = int((bucket - start) / step)
        if 0 <= index < length:
            series[index] += n
    return series


def for_groups(group_ids: list[int]) -> dict[int, dict[str, list[int]]]:
    """{group id: {"hours": 24 counts, "days": 14 counts}}, oldest first. Two queries.
    Failed events are counted, each at the time it happened."""
    rows = FailedEvent.objects.all()
    now = timezone.now().astimezone(UTC)
    hour0 = now.replace(minute=0, second=0, microsecond=0) - timedelta(hours=23)
    day0 = now.replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=13)
    hourly = [_counts(rows, group_ids, hour0, TruncHour)]
    daily = [_counts(rows, group_ids, day0, TruncDay)]
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


FAILED = [Invocation.Status.FUNCTION_ERROR, Invocation.Status.FAILED, Invocation.Status.THROTTLED]
FAILED_RECORDS = [
    ExecutionRecord.Kind.FAILURE,
    ExecutionRecord.Kind.DLQ,
    ExecutionRecord.Kind.STREAM_FAILURE,
]
CHART_DAYS = 14


def daily_chart(environment: Environment, name: str, days: int = CHART_DAYS) -> dict[str, Any]:
    """Invocations and failures per day from our own rows: what the dashboard invoked, and
    the failure records that reached the watched queues. Drawn as SVG by the template."""
    today = timezone.localdate()
    first = today - timedelta(days=days - 1)
    start = timezone.make_aware(datetime.combine(first, datetime.min.time()))
    invoked = (
        Invocation.objects.filter(
            environment=environment, function_name=name, created_at__gte=start
        )
        .annotate(day=TruncDate("created_at"))
        .values("day")
        .annotate(total=Count("id"), failed=Count("id", filter=Q(status=Invocation.Status.FAILED)))
    )
    # Failed events, not records: an OnFailure record and its dead letter are one failure,
    # and a failed synchronous invocation is one too. An invoke AWS refused ("failed") never
    # reached the function: it is counted beside them.
    recorded = (
        FailedEvent.objects.filter(
            environment=environment, function_name=name, happened_at__gte=start
        )
        .annotate(day=TruncDate("happened_at"))
        .values("day")
        .annotate(failed=Count("*"))
        .order_by()
    )
    totals = {row["day"]: row["total"] for row in invoked}
    failures = {row["day"]: row["failed"] for row in invoked}
    for row in recorded:
        failures[row["day"]] = failures.get(row["day"], 0) + row["failed"]
    peak = max([*totals.values(), *failures.values(), 1])
    height, bar, gap, left, top = 80, 16, 6, 30, 8
    bars = []
    for index in range(days):
        day = first + timedelta(days=index)
        total, failed = totals.get(day, 0), failures.get(day, 0)
        x = left + index * (bar + gap)
        total_h = round(height * total / peak, 1)
        failed_h = round(height * failed / peak, 1)
        bars.append(
            {
                "day": day,
                "total": total,
                "failed": failed,
                "x": x,
                "x_failed": x + bar / 2,
                "total_y": top + height - total_h,
                "total_h": total_h,
                "failed_y": top + height - failed_h,
                "failed_h": failed_h,
            }
        )
    step = bar + gap
    return {
        "bars": bars,
        "deploys": deploys.chart_markers(
            environment, name, start, start + timedelta(days=days), left, days * step
        ),
        "peak": peak,
        "width": left + days * (bar + gap),
        "height": top + height + 22,
        "bar": bar,
        "half": bar / 2,
        "base_y": top + height,
        "label_y": top + height + 16,
        "top": top,
        "left": left,
        "first": first,
        "last": today,
        "any": bool(totals or failures),
    }


RANGE_BUCKETS = 24


def for_groups_in_range(
    group_ids: list[int], start: datetime, end: datetime
) -> dict[int, dict[str, Any]]:
    """{group id: {"series": 24 counts from `start` to `end`, "total": n}} for the triage page's
    chosen time range. The database truncates to the minute, hour or day (whichever keeps the
    rows per group small) and the buckets are summed here: two queries whatever the range."""
    span = end - start
    trunc: type[TruncMinute] | type[TruncHour] | type[TruncDay]
    if span <= timedelta(hours=2):
        trunc = TruncMinute
    elif span <= timedelta(days=4):
        trunc = TruncHour
    else:
        trunc = TruncDay
    step = span / RANGE_BUCKETS
    result: dict[int, dict[str, Any]] = {
        pk: {"series": [0] * RANGE_BUCKETS, "total": 0} for pk in group_ids
    }
    # Failed events, each at the time it happened.
    rows = (
        FailedEvent.objects.filter(
            group_id__in=group_ids, happened_at__gte=start, happened_at__lte=end
        )
        .annotate(bucket=trunc("happened_at", tzinfo=UTC))
        .values("group_id", "bucket")
        .annotate(n=Count("*"))
        .order_by()
    )
    for row in rows:
        index = min(RANGE_BUCKETS - 1, max(0, int((row["bucket"] - start) / step)))
        entry = result[row["group_id"]]
        entry["series"][index] += row["n"]
        entry["total"] += row["n"]
    return result


# A group's histogram: for each range, the bucket width, how many bars and the database
# truncation that feeds them (a coarse truncation keeps the query to a few hundred rows at most).
HISTOGRAM_STEPS: dict[str, tuple[timedelta, int, Any]] = {
    "1h": (timedelta(minutes=5), 12, TruncMinute),
    "24h": (timedelta(hours=1), 24, TruncHour),
    "7d": (timedelta(hours=6), 28, TruncHour),
    "14d": (timedelta(days=1), 14, TruncDay),
}


def _floor(moment: datetime, step: timedelta) -> datetime:
    midnight = moment.replace(hour=0, minute=0, second=0, microsecond=0)
    return midnight + ((moment - midnight) // step) * step


def histogram(events: QuerySet[FailedEvent], range_key: str) -> dict[str, Any]:
    """The events per bucket over the range, by the time each happened, drawn as SVG bars by
    the template."""
    step, length, trunc = HISTOGRAM_STEPS[range_key]
    now = timezone.now().astimezone(UTC)
    start = _floor(now, step) - step * (length - 1)
    counts = [0] * length
    per_bucket = (
        events.filter(happened_at__gte=start)
        .annotate(bucket=trunc("happened_at", tzinfo=UTC))
        .values("bucket")
        .annotate(n=Count("*"))
        .order_by()
    )
    for row in per_bucket:
        index = int((row["bucket"] - start) / step)
        if 0 <= index < length:
            counts[index] += row["n"]
    peak = max([*counts, 1])
    height, left, top, width = 70, 30, 6, 560
    slot = (width - left) / length
    bars = []
    for index, n in enumerate(counts):
        h = round(height * n / peak, 1)
        bars.append(
            {
                "start": start + step * index,
                "end": start + step * (index + 1),
                "n": n,
                "x": round(left + index * slot + 1, 1),
                "y": top + height - h,
                "h": h,
            }
        )
    return {
        "bars": bars,
        "bar": round(max(slot - 2, 1), 1),
        "peak": peak,
        "total": sum(counts),
        "width": width,
        "height": top + height + 20,
        "left": left,
        "top": top,
        "base_y": top + height,
        "label_y": top + height + 15,
        "first": start,
        "last": now,
        "daily": step >= timedelta(days=1),
        "short": step < timedelta(hours=1),
    }
