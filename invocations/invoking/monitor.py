"""The function page's Monitor panel: Lambda's own CloudWatch metrics (AWS/Lambda) over a range,
read by the worker (GetMetricData) and kept in a FunctionMetrics row, beside what this
dashboard itself saw over the same range; and links into the AWS console for a real account.
"""

import ipaddress
import logging
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import quote, urlsplit

from django.db.models import Count, Q
from django.utils import timezone

from invocations import aws
from invocations.models import (
    Environment,
    ExecutionRecord,
    FailedEvent,
    FunctionMetrics,
    Invocation,
)
from invocations.ops import sending

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Range:
    key: str
    label: str
    span: timedelta
    # How long a reading stays fresh: CloudWatch itself lags about a minute.
    fresh: timedelta


RANGES = [
    Range("1h", "1 h", timedelta(hours=1), timedelta(seconds=60)),
    Range("24h", "24 h", timedelta(hours=24), timedelta(minutes=5)),
    Range("7d", "7 d", timedelta(days=7), timedelta(minutes=15)),
    Range("14d", "14 d", timedelta(days=14), timedelta(minutes=15)),
]
BY_KEY = {r.key: r for r in RANGES}
DEFAULT_RANGE = "24h"

# A fetch sent this long ago without an answer is sent again (a lost task, a busy worker).
REQUEST_AGAIN_AFTER = timedelta(seconds=30)


@dataclass(frozen=True)
class Metric:
    id: str
    name: str
    stat: str
    label: str
    unit: str = ""


METRICS = [
    Metric("invocations", "Invocations", "Sum", "Invocations"),
    Metric("errors", "Errors", "Sum", "Errors"),
    Metric("throttles", "Throttles", "Sum", "Throttles"),
    Metric("duration_p50", "Duration", "p50", "Duration p50", "ms"),
    Metric("duration_p99", "Duration", "p99", "Duration p99", "ms"),
    Metric("concurrent_max", "ConcurrentExecutions", "Maximum", "Concurrent executions (max)"),
    Metric("async_received", "AsyncEventsReceived", "Sum", "Async events received"),
    Metric("async_age_max", "AsyncEventAge", "Maximum", "Async event age (max)", "ms"),
    Metric("async_dropped", "AsyncEventsDropped", "Sum", "Async events dropped"),
    Metric("dead_letter_errors", "DeadLetterErrors", "Sum", "Dead-letter errors"),
    Metric(
        "destination_failures",
        "DestinationDeliveryFailures",
        "Sum",
        "Destination delivery failures",
    ),
]


# GetMetricData is billed by the metric requested: $0.01 per 1,000
# (https://aws.amazon.com/cloudwatch/pricing/, "API requests", GetMetricData).
CLOUDWATCH_PRICE_PER_THOUSAND_METRICS = 0.01


@dataclass(frozen=True)
class MetricsCost:
    per_refresh: int  # metrics one reading requests
    per_day: int  # at most, while the panel stays open: one reading each time it goes stale

    @property
    def dollars_per_day(self) -> float:
        return self.per_day * CLOUDWATCH_PRICE_PER_THOUSAND_METRICS / 1000


def cost(span: Range) -> MetricsCost:
    """What keeping the panel open on `span` costs in GetMetricData metrics."""
    per_day = len(METRICS) * int(timedelta(days=1) / span.fresh)
    return MetricsCost(per_refresh=len(METRICS), per_day=per_day)


def chosen_range(value: str | None) -> Range:
    """The `range` query parameter; anything else is the default (never an error)."""
    return BY_KEY.get(value or "", BY_KEY[DEFAULT_RANGE])


# --- In the worker ------------------------------------------------------------------------------


def _combine(stat: str, values: list[float]) -> float | None:
    """One figure from the periods CloudWatch answered (usually one: the period is the range).
    Sums add up; maxima and percentiles take the largest period's, an upper bound."""
    if not values:
        return None
    return sum(values) if stat == "Sum" else max(values)


def fetch(environment_id: int, function_name: str, range_key: str) -> FunctionMetrics:
    """Read the panel's metrics with GetMetricData and store them (or AWS's error)."""
    environment = Environment.objects.get(pk=environment_id)
    span = chosen_range(range_key)
    now = timezone.now()
    start = now - span.span
    # A minute past now: CloudWatch takes times to the second, and a datum of this very
    # second would fall outside an end of now.
    end = now + timedelta(minutes=1)
    # One period for the whole range (a multiple of 60 s, as CloudWatch wants).
    period = int((end - start).total_seconds()) // 60 * 60
    queries = [
        aws.MetricQuery(
            metric.id,
            "AWS/Lambda",
            metric.name,
            (("FunctionName", function_name),),
            metric.stat,
            period,
        )
        for metric in METRICS
    ]
    values: dict[str, float | None] = {}
    error = ""
    try:
        series = aws.get_metric_data(environment, queries, start, end)
    except aws.AwsError as failed:
        error = str(failed)
        log.info("metrics of %s: %s", function_name, failed)
    else:
        for metric in METRICS:
            values[metric.id] = _combine(metric.stat, [v for _, v in series.get(metric.id, [])])
    row, _ = FunctionMetrics.objects.get_or_create(
        environment=environment, function_name=function_name, range_key=span.key
    )
    row.fetched_at = timezone.now()
    row.error = error
    if not error:  # an error keeps the last good figures beside it
        row.values = values
    row.save(update_fields=["fetched_at", "error", "values"])
    return row


# --- In the web process -------------------------------------------------------------------------


def reading(environment, function_name: str, span: Range) -> tuple[FunctionMetrics, bool]:
    """The stored reading and whether the panel must keep waiting for a newer one; sends the
    fetch to the worker when the reading is missing or old (once, not on every poll)."""
    row, _ = FunctionMetrics.objects.get_or_create(
        environment=environment, function_name=function_name, range_key=span.key
    )
    now = timezone.now()
    if row.fetched_at and now - row.fetched_at < span.fresh:
        return row, False
    if row.requested_at and row.fetched_at and row.fetched_at >= row.requested_at:
        pass  # the last request was answered, yet the answer is old: ask again
    elif row.requested_at and now - row.requested_at < REQUEST_AGAIN_AFTER:
        return row, True
    # Conditional, so that two pages polling at once send one fetch.
    claimed = FunctionMetrics.objects.filter(pk=row.pk, requested_at=row.requested_at).update(
        requested_at=now
    )
    if claimed:
        refused: list[Exception] = []
        sending.send(
            sending.FETCH_FUNCTION_METRICS,
            environment.pk,
            function_name,
            span.key,
            on_failure=refused.append,
        )
        if refused:
            FunctionMetrics.objects.filter(pk=row.pk).update(requested_at=None)
            row.error = "The task queue (Redis) did not answer: the metrics cannot be read now."
            return row, False
    return row, True


def seen_here(environment, function_name: str, span: Range) -> dict[str, int]:
    """What this dashboard saw of the function over the range: its invocations (and how they
    ended) and the execution records its queues delivered."""
    since = timezone.now() - span.span
    invocations = Invocation.objects.filter(
        environment=environment, function_name=function_name, created_at__gte=since
    ).aggregate(
        total=Count("id"),
        errors=Count("id", filter=Q(status=Invocation.Status.FUNCTION_ERROR)),
        throttled=Count("id", filter=Q(status=Invocation.Status.THROTTLED)),
        asynchronous=Count("id", filter=Q(invocation_type=Invocation.Type.EVENT)),
    )
    records = ExecutionRecord.objects.filter(
        environment=environment, function_name=function_name, received_at__gte=since
    ).aggregate(total=Count("id"))
    # Failed events, not failure records: an OnFailure record and its dead letter are one.
    events = FailedEvent.objects.filter(
        environment=environment, function_name=function_name, happened_at__gte=since
    ).aggregate(
        total=Count("id"),
        asynchronous=Count("id", filter=Q(kind=FailedEvent.Kind.ASYNC)),
    )
    return {
        "invocations": invocations["total"],
        "errors": invocations["errors"],
        "throttles": invocations["throttled"],
        "async_received": invocations["asynchronous"],
        "records": records["total"],
        "failed_events": events["total"],
        "async_failed_events": events["asynchronous"],
    }


def reached_no_queue(dropped: float | None, seen: dict[str, int]) -> int | None:
    """How many of the events Lambda dropped never reached a queue this dashboard watches.

    Lambda counts an event in AsyncEventsDropped once its retries (or its maximum age) are
    spent, whether or not an OnFailure destination or a dead-letter queue then took it. Every
    one that a watched queue took is a failed async event here; the rest failed where nobody
    will see them again: no destination, no DLQ, a queue not watched, or a delivery that failed.
    None while CloudWatch has not answered."""
    if dropped is None:
        return None
    return max(int(dropped) - seen["async_failed_events"], 0)


# --- The AWS console ----------------------------------------------------------------------------


def is_local(environment) -> bool:
    """The sandbox (an endpoint on this machine) has no console to link to."""
    host = urlsplit(environment.endpoint_url or "").hostname or ""
    if not host:
        return False
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return address.is_loopback or address.is_unspecified


def _console(region: str) -> str:
    return f"https://{region}.console.aws.amazon.com"


def _console_escape(text: str) -> str:
    """The CloudWatch console's own escaping inside its fragment: URL-encoding with "$"."""
    return quote(quote(text, safe=""), safe="").replace("%", "$")


def console_links(environment, function_name: str) -> dict[str, str]:
    """Links to the function and its log group in the AWS console; {} for the sandbox."""
    if is_local(environment):
        return {}
    region = environment.region
    group = f"/aws/lambda/{function_name}"
    return {
        "function": f"{_console(region)}/lambda/home?region={region}#/functions/"
        + quote(function_name, safe=""),
        "log_group": f"{_console(region)}/cloudwatch/home?region={region}"
        f"#logsV2:log-groups/log-group/{_console_escape(group)}",
    }


def _insights_value(text: str) -> str:
    # Logs Insights' query detail: values URL-encoded with "*" for "%".
    return quote(text, safe="").replace("%", "*")


def logs_insights_url(environment, function_name: str, request_id: str) -> str:
    """A Logs Insights query for one request ID over the last 24 hours."""
    region = environment.region
    query = (
        "fields @timestamp, @requestId, @message\n"
        f'| filter @requestId = "{request_id}"\n'
        "| sort @timestamp asc\n| limit 1000"
    )
    detail = (
        "~(end~0~start~-86400~timeType~'RELATIVE~unit~'seconds"
        f"~editorString~'{_insights_value(query)}"
        f"~source~(~'{_insights_value(f'/aws/lambda/{function_name}')}))"
    )
    return (
        f"{_console(region)}/cloudwatch/home?region={region}"
        f"#logsV2:logs-insights$3FqueryDetail$3D{quote(detail, safe='~()*').replace('%', '$')}"
    )
