"""The dashboard's own health for Prometheus (served at /metrics).

Every value is read from the database (and the task backlog from Redis) when Prometheus scrapes,
by a collector in a registry of our own: so any gunicorn worker answers with the same numbers, and
a scrape never calls AWS (queue depths are the ones the beat task `measure_queue_depths` stored).
"""

import logging
import time

import redis
from django.conf import settings
from django.db import DatabaseError
from django.db.models import Count
from django.utils import timezone
from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

log = logging.getLogger(__name__)

# Celery's Redis transport keeps one list per queue, and one more per priority step it uses.
CELERY_QUEUE = "celery"
_PRIORITY_SEP = "\x06\x16"
_PRIORITY_STEPS = (3, 6, 9)
BROKER_TIMEOUT = 0.5


def _queue_labels(queue) -> list[str]:
    return [queue.environment.name, queue.name, queue.kind, queue.function_name]


def queue_metrics() -> list:
    from invocations.models import WatchedQueue

    labels = ["environment", "queue", "kind", "function"]
    visible = GaugeMetricFamily(
        "lambda_triage_queue_messages_visible",
        "Messages waiting in the queue (SQS ApproximateNumberOfMessages), as last measured.",
        labels=labels,
    )
    in_flight = GaugeMetricFamily(
        "lambda_triage_queue_messages_in_flight",
        "Messages received but not yet deleted (ApproximateNumberOfMessagesNotVisible).",
        labels=labels,
    )
    measured = GaugeMetricFamily(
        "lambda_triage_queue_depth_measured_timestamp_seconds",
        "When the queue's depth was last measured (Unix time).",
        labels=labels,
    )
    lag = GaugeMetricFamily(
        "lambda_triage_queue_poll_lag_seconds",
        "Seconds since the queue was last polled successfully (absent if never).",
        labels=labels,
    )
    failing = GaugeMetricFamily(
        "lambda_triage_queue_poll_failing",
        "1 while the queue's last poll failed, else 0.",
        labels=labels,
    )
    stored = CounterMetricFamily(
        "lambda_triage_queue_records_stored",
        "Records stored from the queue since it was first watched.",
        labels=labels,
    )
    errors = CounterMetricFamily(
        "lambda_triage_queue_poll_errors",
        "Polls of the queue that failed since it was first watched.",
        labels=labels,
    )
    now = timezone.now()
    for queue in WatchedQueue.objects.filter(enabled=True).select_related("environment"):
        values = _queue_labels(queue)
        if queue.depth_checked_at is not None:
            visible.add_metric(values, queue.depth_visible or 0)
            in_flight.add_metric(values, queue.depth_in_flight or 0)
            measured.add_metric(values, queue.depth_checked_at.timestamp())
        if queue.last_polled_at is not None:
            lag.add_metric(values, max(0.0, (now - queue.last_polled_at).total_seconds()))
        failing.add_metric(values, 1 if queue.is_failing else 0)
        stored.add_metric(values, queue.records_stored)
        errors.add_metric(values, queue.poll_errors)
    return [visible, in_flight, measured, lag, failing, stored, errors]


def invocation_metrics() -> list:
    from invocations.models import Invocation

    invokes = CounterMetricFamily(
        "lambda_triage_invocations",
        "Invocations started from the dashboard, by environment and outcome (status).",
        labels=["environment", "status"],
    )
    rows = (
        Invocation.objects.order_by()
        .values_list("environment__name", "status")
        .annotate(n=Count("id"))
    )
    for environment, status, count in rows:
        invokes.add_metric([environment, status], count)
    return [invokes]


def inventory_metrics() -> list:
    """What the inventory syncs cost in AWS requests (retries of throttled calls included)."""
    from invocations.models import InventorySync

    labels = ["environment"]
    total = CounterMetricFamily(
        "lambda_triage_inventory_sync_aws_requests",
        "AWS requests made by inventory syncs, added up.",
        labels=labels,
    )
    last = GaugeMetricFamily(
        "lambda_triage_inventory_sync_last_aws_requests",
        "AWS requests the last inventory sync made.",
        labels=labels,
    )
    took = GaugeMetricFamily(
        "lambda_triage_inventory_sync_last_seconds",
        "How long the last inventory sync took.",
        labels=labels,
    )
    for sync in InventorySync.objects.select_related("environment").order_by("environment__name"):
        name = [sync.environment.name]
        total.add_metric(name, sync.aws_requests_total)
        last.add_metric(name, sync.aws_requests)
        if sync.seconds is not None:
            took.add_metric(name, sync.seconds)
    return [total, last, took]


def task_backlog_metrics() -> list:
    """Tasks waiting in Redis for a worker. Redis being down is a value (broker_up 0), never an
    error: this is what someone looks at when things are broken."""
    up = GaugeMetricFamily("lambda_triage_broker_up", "1 if Redis (the task broker) answered.")
    backlog = GaugeMetricFamily(
        "lambda_triage_task_backlog",
        "Celery tasks waiting in Redis for a worker.",
        labels=["queue"],
    )
    try:
        client = redis.Redis.from_url(
            settings.CELERY_BROKER_URL,
            socket_connect_timeout=BROKER_TIMEOUT,
            socket_timeout=BROKER_TIMEOUT,
        )
        keys = [CELERY_QUEUE] + [f"{CELERY_QUEUE}{_PRIORITY_SEP}{s}" for s in _PRIORITY_STEPS]
        pipe = client.pipeline(transaction=False)
        for key in keys:
            pipe.llen(key)
        waiting = sum(pipe.execute())
        client.close()
    except (redis.RedisError, OSError) as error:
        log.info("metrics: broker unreachable: %s", error)
        up.add_metric([], 0)
        return [up, backlog]
    up.add_metric([], 1)
    backlog.add_metric([CELERY_QUEUE], waiting)
    return [up, backlog]


def database_metrics() -> list:
    """What the database holds, and whether it answered: while it is down the scrape still
    answers, with `lambda_triage_database_up 0` and what needs no database (the broker)."""
    up = GaugeMetricFamily("lambda_triage_database_up", "1 if the database answered.")
    try:
        families = queue_metrics() + invocation_metrics() + inventory_metrics()
    except DatabaseError as error:
        log.info("metrics: database unreachable: %s", error)
        up.add_metric([], 0)
        return [up]
    up.add_metric([], 1)
    return [up, *families]


class DashboardCollector:
    """Reads everything at scrape time (prometheus_client calls `collect` for each scrape)."""

    def describe(self):
        return []  # nothing to read at registration time

    def collect(self):
        started = time.monotonic()
        yield from database_metrics()
        yield from task_backlog_metrics()
        took = GaugeMetricFamily(
            "lambda_triage_scrape_duration_seconds", "How long reading these metrics took."
        )
        took.add_metric([], time.monotonic() - started)
        yield took


def build_registry() -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(DashboardCollector())
    return registry


REGISTRY = build_registry()
