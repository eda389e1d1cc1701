"""What a failure group's page shows first: one occurrence in full (the latest, unless the URL
picks another), the way to step through the others (newer, older, first, latest), where the
occurrences come from (executed version and alias, condition, source queue) and how they spread
over a time range.

An occurrence is a failed event (events.py). It is shown by its most informative report: its
OnFailure or stream-failure record, else its dead letter, or for a failed synchronous
invocation the invocation. Its key names that report (`r123` for record 123, `i45` for
invocation 45); a key naming any other record of the event, or a replay of it, finds it too.
Their order is (the time the event happened, event id)."""

from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from invocations.failures import events
from invocations.models import ExecutionRecord, FailedEvent, FailureGroup, Invocation
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
    event: FailedEvent
    kind: str  # RECORD or INVOCATION: which report shows it
    item: ExecutionRecord | Invocation
    when: datetime

    @property
    def key(self) -> str:
        return f"{self.kind}{self.item.pk}"

    @property
    def is_record(self) -> bool:
        return self.kind == RECORD


def group_events(group: FailureGroup) -> QuerySet[FailedEvent]:
    return FailedEvent.objects.of_group(group).select_related(
        "primary_record", "primary_record__queue", "invocation"
    )


def parse_key(text: str | None) -> tuple[str, int] | None:
    """("r", 123) for "r123"; None for anything else (never an error: the key comes from a URL)."""
    if not text or len(text) > 24 or text[0] not in (RECORD, INVOCATION):
        return None
    pk = as_id(text[1:])
    return None if pk is None else (text[0], pk)


def _occurrence(event: FailedEvent | None) -> Occurrence | None:
    if event is None:
        return None
    if event.primary_record is not None:
        return Occurrence(event, RECORD, event.primary_record, event.happened_at)
    if event.invocation is not None and event.kind == FailedEvent.Kind.SYNC:
        return Occurrence(event, INVOCATION, event.invocation, event.happened_at)
    # Its records are gone (retention): shown by whatever report is left.
    record = event.records.select_related("queue").order_by("id").first()
    if record is not None:
        return Occurrence(event, RECORD, record, event.happened_at)
    if event.invocation is not None:
        return Occurrence(event, INVOCATION, event.invocation, event.happened_at)
    return None


def find(group: FailureGroup, key: str | None) -> Occurrence | None:
    """The occurrence `key` names (by any of its records, its invocation or a replay), if it is
    one of the group's."""
    event = events.event_of(group, key)
    if event is None:
        return None
    return _occurrence(group_events(group).filter(pk=event.pk).first())


def twins(group: FailureGroup, occurrence: Occurrence) -> list[ExecutionRecord]:
    """The event's other records (the dead letter beside an OnFailure record)."""
    records = ExecutionRecord.objects.filter(event=occurrence.event)
    if occurrence.is_record:
        records = records.exclude(pk=occurrence.item.pk)
    return list(records.only("id", "kind").order_by("id"))


def _edge(group: FailureGroup, newest: bool) -> Occurrence | None:
    sign = "-" if newest else ""
    return _occurrence(group_events(group).order_by(f"{sign}happened_at", f"{sign}id").first())


def latest(group: FailureGroup) -> Occurrence | None:
    return _edge(group, newest=True)


def first(group: FailureGroup) -> Occurrence | None:
    return _edge(group, newest=False)


def _beyond(current: Occurrence, newer: bool) -> Q:
    op = "gt" if newer else "lt"
    when, pk = current.event.happened_at, current.event.pk
    return Q(**{f"happened_at__{op}": when}) | Q(happened_at=when, **{f"pk__{op}": pk})


def _step(group: FailureGroup, current: Occurrence, newer: bool) -> Occurrence | None:
    """The occurrence just after (newer) or just before `current` in (time, id) order."""
    sign = "" if newer else "-"
    rows = group_events(group).filter(_beyond(current, newer))
    return _occurrence(rows.order_by(f"{sign}happened_at", f"{sign}id").first())


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
    return FailedEvent.objects.of_group(group).filter(_beyond(current, True)).count() + 1


def range_start(range_key: str) -> datetime:
    return timezone.now() - RANGES[range_key]


def breakdown(group: FailureGroup, since: datetime) -> dict[str, list[tuple[str, int]]]:
    """How the group's events since `since` split by executed version, by alias (the qualifier
    they were invoked with), by condition and by source queue; most frequent first. Each event
    counts once, with its best facts (an OnFailure record's version, not its dead letter's
    blank)."""
    rows = (
        FailedEvent.objects.of_group(group)
        .filter(happened_at__gte=since)
        .values(
            "executed_version",
            "qualifier",
            "condition",
            "kind",
            "source_rank",
            "primary_record__queue__url",
            "invocation__status",
        )
        .annotate(n=Count("id"))
        .order_by()
    )
    statuses = dict(Invocation.Status.choices)
    versions: Counter[str] = Counter()
    aliases: Counter[str] = Counter()
    conditions: Counter[str] = Counter()
    sources: Counter[str] = Counter()
    for row in rows:
        n = row["n"]
        versions[row["executed_version"] or "unknown"] += n
        aliases[row["qualifier"] or "unqualified"] += n
        shape = FailedEvent(condition=row["condition"], kind=row["kind"])
        shape.source_rank = row["source_rank"]
        if row["kind"] == FailedEvent.Kind.SYNC:
            conditions[statuses.get(row["invocation__status"], "function error")] += n
        else:
            conditions[shape.condition_label] += n
        if row["kind"] == FailedEvent.Kind.SYNC:
            sources["invoked from the dashboard"] += n
        elif row["primary_record__queue__url"]:
            sources[row["primary_record__queue__url"].rstrip("/").rsplit("/", 1)[-1]] += n
    return {
        name: counter.most_common(BREAKDOWN_ROWS)
        for name, counter in (
            ("version", versions),
            ("alias", aliases),
            ("condition", conditions),
            ("source", sources),
        )
    }
