"""Checks behind /health/. Each answers (ok, reason) quickly and never raises: the page is
what people open when something is down, so it must not be a 500 itself."""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

import redis
from django.conf import settings
from django.core.cache import cache
from django.db import connection

from invocations import aws
from invocations.models import Environment, clock


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    reason: str
    # A part that is not ok either stops the dashboard ("down": database, broker, workers) or
    # makes it tell less than the truth ("degraded": a queue, an environment, beat, a backlog).
    degrades: bool = False


# A worker backlog older than this means the workers are not keeping up.
BACKLOG_LIMIT_SECONDS = 60


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


def check_aws(environment: Environment) -> Check:
    name = f"aws:{environment.name}"
    failure = aws.probe(environment)
    if failure:
        return Check(
            name,
            False,
            f"environment {environment.name}: Lambda API call failed ({failure})",
            degrades=True,
        )
    return Check(name, True, f"Lambda API answering in {environment.region}")


# The permission check makes about twenty small AWS calls: /health/ reuses its answer this long.
PERMISSIONS_CHECK_SECONDS = 600


def check_permissions(environment: Environment) -> Check:
    """Which features the environment's credentials cannot use, and the actions they miss
    (`manage.py check_aws` says the same at length). Names actions, never ARNs: this page
    needs no login."""
    from invocations.ops import permissions_check

    name = f"permissions:{environment.name}"
    key = (
        f"permissions-check:{environment.pk}:{environment.endpoint_url}:{environment.profile}:"
        f"{environment.role_arn}:{environment.region}"
    )
    found = cache.get(key)
    if found is None:
        try:
            report = permissions_check.check(environment)
        except Exception as exc:  # this page must answer whatever a stand-in for AWS does
            return Check(name, False, f"check failed ({type(exc).__name__})", degrades=True)
        if report.error:
            found = (False, "cannot ask AWS")
        elif report.works:
            found = (True, "every feature works with these credentials")
        else:
            failing = [
                f"{result.feature.title} ({', '.join(result.missing)})"
                for result in report.features
                if not result.works
            ]
            found = (False, "missing actions: " + "; ".join(failing))
        cache.set(key, found, PERMISSIONS_CHECK_SECONDS)
    ok, reason = found
    return Check(name, ok, reason, degrades=True)


def check_polling() -> Check:
    from invocations.models import WatchedQueue

    queues = WatchedQueue.objects.filter(enabled=True)
    if not queues.exists():
        return Check("polling", True, "no queues watched")
    newest = queues.order_by("-last_polled_at").values_list("last_polled_at", flat=True).first()
    if newest is None:
        return Check("polling", False, "no queue polled yet", degrades=True)
    stale_after = timedelta(seconds=max(60, 3 * settings.POLL_INTERVAL_SECONDS))
    age = clock.now() - newest  # the poller wrote it with the database's clock
    if age > stale_after:
        return Check("polling", False, f"last poll {int(age.total_seconds())} s ago", degrades=True)
    return Check("polling", True, f"last poll {int(age.total_seconds())} s ago")


def check_queues() -> Check:
    """Watched queues whose last poll failed: their records are not arriving."""
    from invocations.models import WatchedQueue

    failing = [
        (q, q.last_error_at)
        for q in WatchedQueue.objects.filter(
            enabled=True, last_error_at__isnull=False
        ).select_related("environment")
        if q.is_failing and q.last_error_at is not None
    ]
    if not failing:
        return Check("queues", True, "no watched queue failing")
    now = clock.now()
    parts = [
        f"{q.name} ({q.environment.name}) failing for "
        f"{int((now - since).total_seconds())} s: {_error_code(q.last_error)}"
        for q, since in failing[:5]
    ]
    more = f" and {len(failing) - 5} more" if len(failing) > 5 else ""
    return Check("queues", False, "; ".join(parts) + more, degrades=True)


def _error_code(error: str) -> str:
    """The code at the start of a stored poll error ("Code: message"), not the message: it may
    name an account or a URL, and this page needs no login."""
    head = error.split(":", 1)[0].strip()
    return head[:80] if head and " " not in head else "see the Queues page"


def check_beat(broker_ok: bool) -> Check:
    from invocations.ops import heartbeat

    if not broker_ok:
        return Check("beat", False, "cannot ask: the broker is down", degrades=True)
    try:
        age = heartbeat.seconds_since_beat()
    except redis.RedisError as exc:
        return Check("beat", False, f"cannot ask ({type(exc).__name__})", degrades=True)
    if age is None:
        return Check("beat", False, "beat has not sent any task", degrades=True)
    limit = max(60, 3 * min(settings.POLL_INTERVAL_SECONDS, 15))
    if age > limit:
        return Check("beat", False, f"beat last sent a task {int(age)} s ago", degrades=True)
    return Check("beat", True, f"last task sent {int(age)} s ago")


def check_backlog(broker_ok: bool) -> Check:
    from invocations.ops import heartbeat

    if not broker_ok:
        return Check("backlog", False, "cannot ask: the broker is down", degrades=True)
    try:
        waited = heartbeat.oldest_waiting_seconds()
    except redis.RedisError as exc:
        return Check("backlog", False, f"cannot ask ({type(exc).__name__})", degrades=True)
    if waited is None:
        return Check("backlog", True, "no task waiting")
    if waited > BACKLOG_LIMIT_SECONDS:
        return Check(
            "backlog",
            False,
            f"the oldest task has waited {int(waited)} s for a worker",
            degrades=True,
        )
    return Check("backlog", True, f"oldest task waiting {int(waited)} s")


# Checks other apps add from their AppConfig.ready() (alerts: its deliveries), so that this core
# module never imports them. Each runs only when the database answers.
_registered: list[Callable[[], Check]] = []


def register(check: Callable[[], Check]) -> None:
    """Add `check` to every run of /health/ (idempotent: ready() may run twice in tests)."""
    if check not in _registered:
        _registered.append(check)


def run_checks() -> list[Check]:
    from invocations.models import Environment

    database = check_database()
    broker = check_broker()
    checks = [database, broker, check_workers(broker.ok)]
    checks += [check_beat(broker.ok), check_backlog(broker.ok)]
    if database.ok:
        Environment.objects.default()
        for env in Environment.objects.order_by("name"):
            reachable = check_aws(env)
            checks.append(reachable)
            if reachable.ok:  # an unreachable AWS is said once, by the line above
                checks.append(check_permissions(env))
        checks += [check_polling(), check_queues()]
        checks += [check() for check in _registered]
    return checks


def overall(checks: list[Check]) -> str:
    """ "up", "degraded" (something tells less than the truth) or "down"."""
    if all(c.ok for c in checks):
        return "up"
    if any(not c.ok and not c.degrades for c in checks):
        return "down"
    return "degraded"
