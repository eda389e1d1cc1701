"""The query bar and time range applied to each list (triage, records, invocations), the values
its suggestions offer, and bounded totals ("1,000+")."""

from dataclasses import dataclass

from django.db.models import Q

from invocations.access import permissions
from invocations.lists import search, time_ranges
from invocations.models import ExecutionRecord, FailureGroup, Invocation, WatchedQueue
from invocations.shared.ids import as_count

# Totals stop here: counting every row would cost as much as the table is big.
PAGE_SIZES = (25, 50, 100, 200)
DEFAULT_PAGE_SIZE = 50
SUGGESTED_VALUES = 30

GROUP_FIELDS = ("function", "error", "version", "is", "assigned", "queue")
RECORD_FIELDS = ("function", "error", "version", "queue", "kind")
INVOCATION_FIELDS = ("function", "error", "version", "is", "kind")

GROUP_CHOICES: dict[str, tuple[str, ...]] = {"is": search.GROUP_STATES}
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


def groups(queryset, found: Search, *, environment, user):
    query = found.query
    raw = permissions.can(user, permissions.RAW_PAYLOADS)
    if query.get("function"):
        queryset = queryset.filter(function_name__icontains=query.get("function"))
    if query.get("error"):
        error = query.get("error")
        queryset = queryset.filter(Q(error_type__iexact=error) | Q(error_class__iexact=error))
    if query.get("version"):
        queryset = queryset.filter(
            pk__in=ExecutionRecord.objects.filter(
                environment=environment, executed_version=query.get("version")
            ).values("failure_group_id")
        )
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
    if query.get("error"):
        queryset = queryset.filter(error_type__iexact=query.get("error"))
    if query.get("version"):
        queryset = queryset.filter(executed_version=query.get("version"))
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
    if query.get("error"):
        queryset = queryset.filter(failure_group__error_type__iexact=query.get("error"))
    if query.get("version"):
        queryset = queryset.filter(executed_version=query.get("version"))
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
