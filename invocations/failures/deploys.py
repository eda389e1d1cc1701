"""Deploys: what changed in a function, noticed by the inventory refresh, and the sentences and
chart markers that put failures beside them ("first seen 3 min after version 7 was published").

A deploy is a published version (each one once, at its LastModified time), a new CodeSha256
of $LATEST, or a change of its configuration: memory, timeout, environment variable names
(never their values), reserved concurrency, destinations and dead-letter queue.
"""

import bisect
from collections import defaultdict
from datetime import datetime, timedelta

from django.utils import timezone

from invocations.models import Deploy, Environment, FailureGroup, Function

# A failure is put beside the last deploy of its function within this long before it.
AFTER_WINDOW = timedelta(days=7)

# The $LATEST configuration a deploy is judged by: (label, Function field).
CONFIG_FIELDS = [
    ("memory", "memory_size"),
    ("timeout", "timeout"),
    ("environment variables", "environment_variable_names"),
    ("reserved concurrency", "reserved_concurrency"),
    ("on-success destination", "on_success_destination"),
    ("on-failure destination", "on_failure_destination"),
    ("dead-letter queue", "dlq_target"),
]


def parse_last_modified(text: str) -> datetime | None:
    """Lambda's LastModified ("2026-11-30T10:04:05.123+0000"); None when absent or odd."""
    for pattern in ("%Y-%m-%dT%H:%M:%S.%f%z", "%Y-%m-%dT%H:%M:%S%z"):
        try:
            return datetime.strptime(text, pattern)
        except (TypeError, ValueError):
            continue
    return None


def detect(
    environment: Environment,
    before: dict | None,
    function: Function,
    versions: list[dict] | None,
    known_versions: set[str],
) -> list[Deploy]:
    """The deploys between `before` (the row's fields as the last refresh left them, None for a
    function seen for the first time) and `function` as just refreshed. Unsaved rows.

    `versions` is ListVersionsByFunction's answer (None when that call failed this time);
    `known_versions` the versions already recorded as deploys."""
    now = timezone.now()
    found: list[Deploy] = []

    def deploy(kind: str, version: str, code_sha256: str, at, changes=()) -> None:
        found.append(
            Deploy(
                environment=environment,
                function=function,
                function_name=function.name,
                kind=kind,
                version=version,
                code_sha256=code_sha256,
                changes=list(changes),
                at=at or now,
            )
        )

    for item in versions or []:
        version = item["version"]
        if version == "$LATEST" or version in known_versions:
            continue
        at = parse_last_modified(item.get("last_modified", ""))
        deploy(Deploy.Kind.VERSION, version, item.get("code_sha256", ""), at)

    # A row without a CodeSha256 was stored before deploys were tracked: it is no baseline.
    if before is None or not before.get("code_sha256"):
        return found
    changed_at = parse_last_modified(function.last_modified)
    if function.code_sha256 and function.code_sha256 != before["code_sha256"]:
        deploy(Deploy.Kind.CODE, "$LATEST", function.code_sha256, changed_at)
    changes = [
        {"field": label, "old": before.get(name), "new": getattr(function, name)}
        for label, name in CONFIG_FIELDS
        if name in before and before.get(name) != getattr(function, name)
    ]
    if changes:
        deploy(Deploy.Kind.CONFIG, "$LATEST", function.code_sha256, changed_at, changes)
    return found


def baseline(function: Function) -> dict:
    """What detect() compares the next refresh with."""
    names = ["code_sha256", *(name for _, name in CONFIG_FIELDS)]
    return {name: getattr(function, name) for name in names}


def known_versions(environment: Environment) -> dict[str, set[str]]:
    """{function name: versions already recorded as published}."""
    known: dict[str, set[str]] = defaultdict(set)
    rows = Deploy.objects.filter(environment=environment, kind=Deploy.Kind.VERSION)
    for name, version in rows.values_list("function_name", "version"):
        known[name].add(version)
    return known


# --- Reading them back --------------------------------------------------------------------------


def elapsed(delta: timedelta) -> str:
    """ "40 s", "3 min", "2 h 5 min", "3 days"."""
    seconds = int(delta.total_seconds())
    if seconds < 60:
        return f"{seconds} s"
    minutes = seconds // 60
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    return f"{hours // 24} days"


def after_note(deploy: Deploy | None, moment: datetime) -> str:
    if deploy is None:
        return ""
    return f"first seen {elapsed(moment - deploy.at)} after {deploy.summary}"


def preceding(environment, function_name: str, moment: datetime) -> Deploy | None:
    """The last deploy of the function at or before `moment`, within AFTER_WINDOW."""
    return (
        Deploy.objects.for_function(environment, function_name)
        .filter(at__lte=moment, at__gte=moment - AFTER_WINDOW)
        .order_by("-at", "-id")
        .first()
    )


def group_note(group: FailureGroup) -> str:
    """The group page: "first seen 3 min after version 7 was published", or ""."""
    return after_note(
        preceding(group.environment_id, group.function_name, group.first_seen), group.first_seen
    )


def group_notes(groups) -> dict[int, str]:
    """The same for a page of groups in one query: {group id: note}."""
    groups = list(groups)
    if not groups:
        return {}
    earliest = min(group.first_seen for group in groups) - AFTER_WINDOW
    latest = max(group.first_seen for group in groups)
    rows = Deploy.objects.filter(
        environment__in={group.environment_id for group in groups},
        function_name__in={group.function_name for group in groups},
        at__gte=earliest,
        at__lte=latest,
    ).order_by("at", "id")
    by_function: dict[tuple[int, str], list[Deploy]] = defaultdict(list)
    for row in rows:
        by_function[(row.environment_id, row.function_name)].append(row)
    notes = {}
    for group in groups:
        found = by_function.get((group.environment_id, group.function_name), [])
        index = bisect.bisect_right([d.at for d in found], group.first_seen) - 1
        if index >= 0 and group.first_seen - found[index].at <= AFTER_WINDOW:
            notes[group.pk] = after_note(found[index], group.first_seen)
    return notes


def markers(
    environment: Environment | int, function_name: str, start: datetime, end: datetime
) -> list[Deploy]:
    """The deploys to mark on a chart from `start` to `end`."""
    return list(
        Deploy.objects.for_function(environment, function_name).filter(at__gte=start, at__lte=end)
    )


def chart_markers(
    environment: Environment | int,
    function_name: str,
    start: datetime,
    end: datetime,
    x0: float,
    width: float,
) -> list[dict[str, object]]:
    """Deploy markers for a time axis from `start` (at x0) to `end` (at x0 + width): each
    {"x", "label", "title"}, for an SVG chart to draw as a vertical line."""
    span = (end - start).total_seconds() or 1
    found = []
    for deploy in markers(environment, function_name, start, end):
        x = x0 + width * (deploy.at - start).total_seconds() / span
        when = timezone.localtime(deploy.at).strftime("%b %d %H:%M")
        found.append(
            {
                "x": round(x, 1),
                "label_x": round(x + 2, 1),
                "label": deploy.short_label,
                "title": f"{when}: {deploy.summary}",
            }
        )
    return found
