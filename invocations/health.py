"""Checks behind /health/. Each answers (ok, reason) quickly and never raises: the page is
what people open when something is down, so it must not be a 500 itself."""

from dataclasses import dataclass
from datetime import timedelta

import redis
from django.conf import settings
from django.db import connection
from django.utils import timezone

from invocations import aws


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    reason: str


def check_database() -> Check:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return Check("database", True, "answering")
    except Exception as exc:  # any driver error means down
        return Check("database", False, type(exc).__name__)


def check_broker() -> Check:
    try:
        client = redis.Redis.from_url(
            settings.CELERY_BROKER_URL, socket_connect_timeout=1, socket_timeout=1
        )
        client.ping()
        return Check("broker", True, "Redis answering")
    except redis.RedisError as exc:
        return Check("broker", False, f"Redis unreachable ({type(exc).__name__})")


def check_workers(broker_ok: bool) -> Check:
    if not broker_ok:
        return Check("workers", False, "cannot ask: the broker is down")
    from dashboard.celery import app

    try:
        replies = app.control.ping(timeout=1.0)
    except Exception as exc:  # kombu raises many kinds of connection errors
        return Check("workers", False, f"ping failed ({type(exc).__name__})")
    if not replies:
        return Check("workers", False, "no worker answered a ping within 1 s")
    return Check("workers", True, f"{len(replies)} answering")


def check_aws(environment) -> Check:
    failure = aws.probe(environment)
    if failure:
        return Check("aws", False, f"Lambda API call failed ({failure})")
    return Check("aws", True, f"Lambda API answering in {environment.region}")


def check_polling() -> Check:
    from invocations.models import WatchedQueue

    queues = WatchedQueue.objects.filter(enabled=True)
    if not queues.exists():
        return Check("polling", True, "no queues watched")
    newest = queues.order_by("-last_polled_at").values_list("last_polled_at", flat=True).first()
    if newest is None:
        return Check("polling", False, "no queue polled yet")
    stale_after = timedelta(seconds=max(60, 3 * settings.POLL_INTERVAL_SECONDS))
    age = timezone.now() - newest
    if age > stale_after:
        return Check("polling", False, f"last poll {int(age.total_seconds())} s ago")
    return Check("polling", True, f"last poll {int(age.total_seconds())} s ago")


def run_checks() -> list[Check]:
    from alerts.health import check_deliveries
    from invocations.models import Environment

    database = check_database()
    broker = check_broker()
    checks = [database, broker, check_workers(broker.ok)]
    if database.ok:
        checks.append(check_aws(Environment.objects.default()))
        checks.append(check_polling())
        checks.append(check_deliveries())
    return checks
