"""CloudWatch Logs: the events of a log group that mention a term, and a stretch of one log
stream. Both read a bounded number of pages: they run while a page waits for its log panel."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

from invocations.aws import clients

if TYPE_CHECKING:
    from mypy_boto3_logs.type_defs import FilteredLogEventTypeDef, FilterLogEventsResponseTypeDef

    from invocations.models import Environment

_Item = TypeVar("_Item")


@dataclass(frozen=True)
class LogEvent:
    timestamp: int
    message: str
    stream: str


def _bounded(
    pages: Iterable[FilterLogEventsResponseTypeDef],
    item: Callable[[FilteredLogEventTypeDef], _Item],
    limit: int,
    max_pages: int,
) -> tuple[list[_Item], bool]:
    """At most `limit` items from at most `max_pages` pages (a filter over a large group can
    answer many empty pages), and whether more were left. Leaving the loop asks for no
    further page."""
    found: list[_Item] = []
    for number, page in enumerate(clients.pages(pages), start=1):
        found += [item(event) for event in page.get("events", [])]
        if len(found) >= limit or number == max_pages:
            return found[:limit], bool(page.get("nextToken")) or len(found) > limit
    return found, False


def filter_log_events(
    environment: Environment,
    group: str,
    term: str,
    start_ms: int,
    limit: int = 500,
    max_pages: int = 10,
) -> tuple[list[LogEvent], bool]:
    """Events of `group` that contain `term` (a plain or quoted term: moto supports no other
    pattern), at most `limit` from at most `max_pages` pages; the flag says whether more were
    left (FilterLogEvents)."""
    paginator = clients.client(environment, "logs").get_paginator("filter_log_events")
    pages = paginator.paginate(logGroupName=group, filterPattern=term, startTime=start_ms)

    def event(item: FilteredLogEventTypeDef) -> LogEvent:
        return LogEvent(item.get("timestamp", 0), item.get("message", ""), item["logStreamName"])

    return _bounded(pages, event, limit, max_pages)


def log_events_between(
    environment: Environment,
    group: str,
    stream: str,
    start_ms: int,
    end_ms: int,
    limit: int = 1000,
    max_pages: int = 10,
) -> tuple[list[str], bool]:
    """The messages of one log stream from `start_ms` to `end_ms` inclusive, oldest first, at
    most `limit` from at most `max_pages` pages; the flag says whether more were left.

    FilterLogEvents on the one stream, without a pattern: botocore has a paginator for it and
    none for GetLogEvents (whose forward token never ends, it repeats at the stream's end)."""
    paginator = clients.client(environment, "logs").get_paginator("filter_log_events")
    pages = paginator.paginate(
        logGroupName=group, logStreamNames=[stream], startTime=start_ms, endTime=end_ms
    )
    return _bounded(pages, lambda item: item.get("message", ""), limit, max_pages)
