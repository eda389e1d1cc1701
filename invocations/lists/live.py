"""What changed on an open list since the page was drawn: the "N new" marker and the rows to
update in place. The page keeps a cursor (a time, or the newest record id) and asks every few
seconds; nothing moves under the reader's cursor until they ask for the new rows."""

import hashlib
from datetime import UTC, datetime

from django.db.models import Q
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from invocations.models import FailedEvent, FailureGroup
from invocations.shared.ids import as_count, as_id

# "99+ new" is as precise as a marker needs to be, and bounds the count's cost.
NEW_LIMIT = 99
MAX_SEEN = 200


def now_cursor() -> str:
    return timezone.now().isoformat()


def read_time_cursor(raw: str | None) -> datetime | None:
    try:
        moment = parse_datetime((raw or "")[:40])
    except ValueError:
        return None
    if moment is None:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def read_id_cursor(raw: str | None) -> int | None:
    return as_count(raw)


def group_stamp(group: FailureGroup) -> str:
    """A short digest of what a triage row shows: a change means the row is drawn again."""
    parts = [
        group.count,
        group.status,
        group.regressed,
        group.assignee_id,
        group.last_seen.isoformat() if group.last_seen else "",
        group.snoozed_until.isoformat() if group.snoozed_until else "",
        group.snooze_until_count,
        group.backlog_count,
    ]
    return hashlib.blake2s(repr(parts).encode(), digest_size=6).hexdigest()


def read_seen(values: list[str]) -> dict[int, str]:
    """{group id: stamp} from the page's `seen` inputs ("id:stamp"); malformed ones skipped."""
    seen = {}
    for value in values[:MAX_SEEN]:
        pk, _, stamp = value.partition(":")
        key = as_id(pk)
        if key is not None:
            seen[key] = stamp[:32]
    return seen


def new_groups(groups, since: datetime, seen: dict[int, str]) -> int:
    """How many of `groups` (already filtered) had a failure arrive after `since` and are not on
    the page: new groups, and groups that would now sort to the top. Arrival, not the failure's
    own time: a record polled late carries an older timestamp but is news all the same."""
    arrived = Q(pk__in=FailedEvent.objects.filter(arrived_at__gt=since).values("group_id"))
    fresh = groups.filter(arrived).exclude(pk__in=list(seen)).order_by()
    return fresh.values("pk")[: NEW_LIMIT + 1].count()


def changed_groups(environment, seen: dict[int, str]) -> list[FailureGroup]:
    """The groups on the page whose row would now look different."""
    current = FailureGroup.objects.for_triage().filter(environment=environment, pk__in=list(seen))
    return [g for g in current if group_stamp(g) != seen[g.pk]]


def new_records(records, after_id: int) -> int:
    return records.filter(id__gt=after_id).order_by().values("pk")[: NEW_LIMIT + 1].count()


def new_occurrences(group: FailureGroup, since: datetime) -> int:
    """Failed events (one per request, however many records report it) that arrived since."""
    fresh = FailedEvent.objects.of_group(group).filter(arrived_at__gt=since)
    return fresh.order_by().values("pk")[: NEW_LIMIT + 1].count()
