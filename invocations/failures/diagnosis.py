"""What a failure group's page shows first: one occurrence in full (the latest, unless the URL
picks another), the way to step through the others (newer, older, first, latest), where the
occurrences come from (executed version and alias, condition, source queue) and how they spread
over a time range.

An occurrence is a failure record or an invocation of the group. They live in two tables, so an
occurrence is named by a key that says which: `r123` for record 123, `i45` for invocation 45.
Their order is (time, kind, id): a record by the time it was received, an invocation by the time
it was made."""

from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from invocations.failures import events
from invocations.models import ExecutionRecord, FailureGroup, Invocation
from invocations.shared.ids import as_id

RECORD, INVOCATION = "r", "i"
RANGES = {
    "1h": timedelta(hours=1),
    "24h": timedelta(hours=24),
    "7d": timedelta(days=7),
    "14d": timedelta(days=14),
}
DEFAULT_RANGE = "24h"
BREAKDOWN_ROWS = 8


@dataclass(frozen=True)
class Occurrence:
    kind: str  # RECORD or INVOCATION
    item: ExecutionRecord | Invocation
    when: datetime

    @property
    def key(self) -> str:
        return f"{self.kind}{self.item.pk}"

    @property
    def is_record(self) -> bool:
        return self.kind == RECORD


def event_records(group: FailureGroup) -> QuerySet[ExecutionRecord]:
    """The records that stand for an occurrence of the group: the first record of each failed
    event (an OnFailure record stands for its dead letter too)."""
    return events.first_in_group(ExecutionRecord.objects.filter(failure_group=group))


def group_invocations(group: FailureGroup) -> QuerySet[Invocation]:
    return Invocation.objects.filter(failure_group=group)


def parse_key(text: str | None) -> tuple[str, int] | None:
    """("r", 123) for "r123"; None for anything else (never an error: the key comes from a URL)."""
    if not text or len(text) > 24 or text[0] not in (RECORD, INVOCATION):
        return None
    pk = as_id(text[1:])
    return None if pk is None else (text[0], pk)


def _occurrence(kind: str, item) -> Occurrence:
    return Occurrence(kind, item, item.received_at if kind == RECORD else item.created_at)


def find(group: FailureGroup, key: str | None) -> Occurrence | None:
    """The occurrence `key` names, if it is one of the group's."""
    parsed = parse_key(key)
    if parsed is None:
        return None
    kind, pk = parsed
    rows = event_records(group) if kind == RECORD else group_invocations(group)
    item = rows.filter(pk=pk).first()
    return _occurrence(kind, item) if item is not None else None


def twins(group: FailureGroup, occurrence: Occurrence) -> list[ExecutionRecord]:
    """The other records of an occurrence's request in the group (the dead letter beside an
    OnFailure record)."""
    item = occurrence.item
    if not occurrence.is_record or not item.request_id:
        return []
    return list(
        ExecutionRecord.objects.filter(failure_group=group, request_id=item.request_id)
        .exclude(pk=item.pk)
        .only("id", "kind")
        .order_by("id")
    )


def _edge(group: FailureGroup, newest: bool) -> Occurrence | None:
    sign = "-" if newest else ""
    record = event_records(group).order_by(f"{sign}received_at", f"{sign}id").first()
    invocation = group_invocations(group).order_by(f"{sign}created_at", f"{sign}id").first()
    found = [_occurrence(RECORD, record)] if record else []
    found += [_occurrence(INVOCATION, invocation)] if invocation else []
    if not found:
        return None
    pick = max if newest else min
    return pick(found, key=_order)


def _order(occurrence: Occurrence) -> tuple:
    return (occurrence.when, occurrence.kind, occurrence.item.pk)


def latest(group: FailureGroup) -> Occurrence | None:
    return _edge(group, newest=True)


def first(group: FailureGroup) -> Occurrence | None:
    return _edge(group, newest=False)


def _step(group: FailureGroup, current: Occurrence, newer: bool) -> Occurrence | None:
    """The occurrence just after (newer) or just before `current` in (time, kind, id) order."""
    time, kind, pk = _order(current)
    candidates = []
    for this_kind, rows, field in (
        (RECORD, event_records(group), "received_at"),
        (INVOCATION, group_invocations(group), "created_at"),
    ):
        op = "gt" if newer else "lt"
        beyond = Q(**{f"{field}__{op}": time})
        if this_kind == kind:
            beyond |= Q(**{field: time, f"pk__{op}": pk})
        elif (this_kind > kind) == newer:
            # Same time, other table: the kind decides the order.
            beyond |= Q(**{field: time})
        sign = "" if newer else "-"
        item = rows.filter(beyond).order_by(f"{sign}{field}", f"{sign}id").first()
        if item is not None:
            candidates.append(_occurrence(this_kind, item))
    if not candidates:
        return None
    return (min if newer else max)(candidates, key=_order)


def navigation(group: FailureGroup, current: Occurrence) -> dict[str, Occurrence | None]:
    """The occurrences the page's stepping links go to; None where there is nowhere to go."""
    newest, oldest = latest(group), first(group)
    return {
        "latest": newest if newest and newest.key != current.key else None,
        "newer": _step(group, current, newer=True),
        "older": _step(group, current, newer=False),
        "first": oldest if oldest and oldest.key != current.key else None,
    }


def position(group: FailureGroup, current: Occurrence) -> int:
    """1 for the latest occurrence, 2 for the one before it, and so on."""
    time, kind, pk = _order(current)
    newer = 0
    for this_kind, rows, field in (
        (RECORD, event_records(group), "received_at"),
        (INVOCATION, group_invocations(group), "created_at"),
    ):
        beyond = Q(**{f"{field}__gt": time})
        if this_kind == kind:
            beyond |= Q(**{field: time, "pk__gt": pk})
        elif this_kind > kind:
            beyond |= Q(**{field: time})
        newer += rows.filter(beyond).count()
    return newer + 1


def range_start(range_key: str) -> datetime:
    return timezone.now() - RANGES[range_key]


def breakdown(group: FailureGroup, since: datetime) -> dict[str, list[tuple[str, int]]]:
    """How the occurrences since `since` split by executed version, by alias (the qualifier
    they were invoked with), by condition and by source queue; most frequent first."""
    records = event_records(group).filter(received_at__gte=since)
    invocations = group_invocations(group).filter(created_at__gte=since)
    versions: Counter[str] = Counter()
    aliases: Counter[str] = Counter()
    conditions: Counter[str] = Counter()
    sources: Counter[str] = Counter()
    for row in records.values("executed_version", "qualifier").annotate(n=Count("id")).order_by():
        versions[row["executed_version"] or "unknown"] += row["n"]
        aliases[row["qualifier"] or "unqualified"] += row["n"]
    kinds = dict(ExecutionRecord.Kind.choices)
    for by_condition in records.values("condition", "kind").annotate(n=Count("id")).order_by():
        label = by_condition["condition"] or kinds[by_condition["kind"]]
        conditions[label] += by_condition["n"]
    for by_queue in records.values("queue__url").annotate(n=Count("id")).order_by():
        sources[by_queue["queue__url"].rstrip("/").rsplit("/", 1)[-1]] += by_queue["n"]
    statuses = dict(Invocation.Status.choices)
    for row in (
        invocations.values("executed_version", "qualifier", "status")
        .annotate(n=Count("id"))
        .order_by()
    ):
        versions[row["executed_version"] or "unknown"] += row["n"]
        aliases[row["qualifier"] or "unqualified"] += row["n"]
        conditions[statuses.get(row["status"], row["status"])] += row["n"]
        sources["invoked from the dashboard"] += row["n"]
    return {
        name: counter.most_common(BREAKDOWN_ROWS)
        for name, counter in (
            ("version", versions),
            ("alias", aliases),
            ("condition", conditions),
            ("source", sources),
        )
    }
