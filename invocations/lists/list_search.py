"""The query bar and time range applied to each list (triage, records, invocations), the values
its suggestions offer, and bounded totals ("1,000+")."""

from dataclasses import dataclass

from django.db.models import Q

from invocations.access import permissions
from invocations.lists import search, time_ranges
from invocations.models import ExecutionRecord, FailedEvent, FailureGroup, Invocation, WatchedQueue
from invocations.shared.ids import as_count

# Totals stop here: counting every row would cost as much as the table is big.
PAGE_SIZES = (25, 50, 100, 200)
DEFAULT_PAGE_SIZE = 50
SUGGESTED_VALUES = 30

# error:, version:, alias:, condition: and (on triage) kind: answer by failed events, whichever
# report said the fact and whether the event was synchronous or asynchronous.
GROUP_FIELDS = (
    "function",
    "error",
    "version",
    "alias",
    "condition",
    "kind",
    "is",
    "assigned",
    "queue",
)
RECORD_FIELDS = ("function", "error", "version", "alias", "condition", "queue", "kind")
INVOCATION_FIELDS = ("function", "error", "version", "alias", "condition", "is", "kind")

GROUP_CHOICES: dict[str, tuple[str, ...]] = {
    "is": search.GROUP_STATES,
    "kind": tuple(FailedEvent.Kind.values),
}
RECORD_CHOICES: dict[str, tuple[str, ...]] = {"kind": tuple(ExecutionRecord.Kind.values)}
INVOCATION_CHOICES: dict[str, tuple[str, ...]] = {
    "is": tuple(Invocation.Status.values),
    "kind": tuple(v.lower() for v in Invocation.Type.values),
}


@dataclass(frozen=True)
class Search:
    """What a list was asked to show: the parsed query, the time range, the page size, and every
    problem found on the way (shown on the page, then ignored)."""

    query: search.Query
    range: time_ranges.TimeRange
    per_page: int
    problems: tuple[str, ...]


def read(params, *, fields, choices) -> Search:
    query = search.parse(params.get("q") or "", fields=fields, choices=choices)
    window = time_ranges.from_params(params)
    problems = list(query.problems) + list(window.problems)
    raw_size = (params.get("per_page") or "").strip()
    per_page = DEFAULT_PAGE_SIZE
    if raw_size:
        if as_count(raw_size) in PAGE_SIZES:
            per_page = int(raw_size)
        else:
            sizes = ", ".join(str(s) for s in PAGE_SIZES)
            problems.append(f"page size {raw_size[:10]!r} is not one of {sizes}; ignored")
    return Search(query=query, range=window, per_page=per_page, problems=tuple(problems))


def _queue_ids(environment, name: str):
    return WatchedQueue.objects.filter(environment=environment, url__endswith=f"/{name}").values(
        "pk"
    )


def _column(name: str, raw: bool) -> str:
    """The text column a search matches: the raw text for people with the raw-payload
    permission, else its redacted copy, so that a search can never tell what a page hides."""
    return name if raw else f"{name}_redacted"


def _event_filter(query) -> Q | None:
    """The query's event fields as a filter on FailedEvent; None when it names none."""
    wanted = Q()
    named = False
    for field, lookup in (
        ("error", "error_type__iexact"),
        ("version", "executed_version"),
        ("alias", "qualifier"),
        ("condition", "condition__iexact"),
    ):
        if query.get(field):
            wanted &= Q(**{lookup: query.get(field)})
            named = True
    return wanted if named else None


def _matching_events(environment, query, *, kind: bool = False):
    """The environment's failed events the query's event fields name, or None."""
    wanted = _event_filter(query)
    if kind and query.get("kind"):
        wanted = (wanted or Q()) & Q(kind=query.get("kind"))
    if wanted is None:
        return None
    return FailedEvent.objects.filter(wanted, environment=environment)


def groups(queryset, found: Search, *, environment, user):
    query = found.query
    raw = permissions.can(user, permissions.RAW_PAYLOADS)
    if query.get("function"):
        queryset = queryset.filter(function_name__icontains=query.get("function"))
    matching = _matching_events(environment, query, kind=True)
    if matching is not None:
        by_events = Q(pk__in=matching.values("group_id"))
        error = query.get("error")
        alone = not any(query.get(f) for f in ("version", "alias", "condition", "kind"))
        if error and alone:
            by_events |= Q(error_class__iexact=error)  # a built-in class: "error:timeout"
        queryset = queryset.filter(by_events)
    if query.get("queue"):
        queryset = queryset.filter(
            pk__in=ExecutionRecord.objects.filter(
                queue__in=_queue_ids(environment, query.get("queue"))
            ).values("failure_group_id")
        )
    state = query.get("is")
    if state == "regressed":
        queryset = queryset.filter(regressed=True, status="open")
    elif state == "snoozed":
        queryset = queryset.snoozed()
    elif state:
        queryset = queryset.filter(status=state)
    assigned = query.get("assigned")
    if assigned in ("me",):
        queryset = queryset.filter(assignee=user)
    elif assigned in ("none", "nobody"):
        queryset = queryset.filter(assignee__isnull=True)
    elif assigned:
        queryset = queryset.filter(assignee__username=assigned)
    if query.text:
        queryset = queryset.filter(**{f"{_column('sample_message', raw)}__icontains": query.text})
    window = found.range
    if window.start is not None:
        queryset = queryset.filter(last_seen__gte=window.start)
    if window.end is not None:
        queryset = queryset.filter(first_seen__lte=window.end)
    return queryset


def records(queryset, found: Search, *, environment, raw: bool):
    """The records the query selects; free text matches the error message as the searcher may
    read it (`raw`: the raw-payload permission)."""
    query = found.query
    if query.get("function"):
        queryset = queryset.filter(function_name__icontains=query.get("function"))
    matching = _matching_events(environment, query)
    if matching is not None:
        # A dead letter answers by its event's facts (its OnFailure record's error type).
        queryset = queryset.filter(event__in=matching.values("pk"))
    if query.get("queue"):
        queryset = queryset.filter(queue__in=_queue_ids(environment, query.get("queue")))
    if query.get("kind"):
        queryset = queryset.filter(kind=query.get("kind"))
    if query.text:
        term = query.text
        queryset = queryset.filter(
            Q(request_id=term)
            | Q(message_id=term)
            | Q(**{f"{_column('error_message', raw)}__icontains": term})
            | Q(error_type__icontains=term)
        )
    return found.range.filter(queryset, "received_at")


def invocations(queryset, found: Search, *, raw: bool):
    """The invocations the query selects; free text matches the error text and the group's
    sample as the searcher may read them (`raw`: the raw-payload permission)."""
    query = found.query
    if query.get("function"):
        queryset = queryset.filter(function_name__icontains=query.get("function"))
    wanted = _event_filter(query)
    if wanted is not None:
        # A failed synchronous invoke is its event; an Event invoke started one.
        queryset = queryset.filter(
            pk__in=FailedEvent.objects.filter(wanted).values("invocation_id")
        )
    if query.get("is"):
        queryset = queryset.filter(status=query.get("is"))
    if query.get("kind"):
        queryset = queryset.filter(invocation_type__iexact=query.get("kind"))
    if query.text:
        term = query.text
        queryset = queryset.filter(
            Q(request_id__startswith=term)
            | Q(**{f"{_column('error_text', raw)}__icontains": term})
            | Q(**{f"failure_group__{_column('sample_message', raw)}__icontains": term})
        )
    return found.range.filter(queryset, "created_at")


def known_values(environment, fields) -> dict[str, list[str]]:
    """Values worth suggesting: function names, error types and queue names seen here (each list
    bounded), and the closed choices."""
    groups_here = FailureGroup.objects.filter(environment=environment).order_by()
    known: dict[str, list[str]] = {}
    if "function" in fields:
        known["function"] = list(
            groups_here.values_list("function_name", flat=True).distinct()[:SUGGESTED_VALUES]
        )
    if "error" in fields:
        known["error"] = list(
            groups_here.exclude(error_type="")
            .values_list("error_type", flat=True)
            .distinct()[:SUGGESTED_VALUES]
        )
    if "queue" in fields:
        urls = WatchedQueue.objects.filter(environment=environment).values_list("url", flat=True)
        known["queue"] = [url.rstrip("/").rsplit("/", 1)[-1] for url in urls[:SUGGESTED_VALUES]]
    if "assigned" in fields:
        known["assigned"] = ["me", "none"]
    return known


LISTS: dict[str, tuple[tuple[str, ...], dict[str, tuple[str, ...]]]] = {
    "triage": (GROUP_FIELDS, GROUP_CHOICES),
    "records": (RECORD_FIELDS, RECORD_CHOICES),
    "invocations": (INVOCATION_FIELDS, INVOCATION_CHOICES),
}


def suggestions_for(environment, list_name: str) -> list[str]:
    """The query bar's suggestions on one list: its fields, then values seen here."""
    fields, choices = LISTS[list_name]
    known = known_values(environment, fields)
    known.update({name: list(values) for name, values in choices.items()})
    return search.suggestions(fields, known)
