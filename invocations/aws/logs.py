"""CloudWatch Logs: the events of a log group that mention a term, and a stretch of one log
stream. Both read a bounded number of pages: they run while a page waits for its log panel."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from invocations.aws import clients

if TYPE_CHECKING:
    from invocations.models import Environment


@dataclass(frozen=True)
class LogEvent:
    timestamp: int
    message: str
    stream: str


def filter_log_events(
    environment: Environment,
    group: str,
    term: str,
    start_ms: int,
    limit: int = 500,
    max_pages: int = 10,
) -> tuple[list[LogEvent], bool]:
    """Events of `group` that contain `term` (a plain or quoted term: moto supports no other
    pattern), at most `limit` from at most `max_pages` pages (a filter over a large group can
    answer many empty pages); the flag says whether more were left."""
    paginator = clients.client(environment, "logs").get_paginator("filter_log_events")
    pages = paginator.paginate(logGroupName=group, filterPattern=term, startTime=start_ms)
    events: list[LogEvent] = []
    for number, page in enumerate(clients.pages(pages), start=1):
        events += [
            LogEvent(item.get("timestamp", 0), item.get("message", ""), item["logStreamName"])
            for item in page.get("events", [])
        ]
        # Leaving the loop asks for no further page.
        if len(events) >= limit or number == max_pages:
            return events[:limit], bool(page.get("nextToken")) or len(events) > limit
    return events, False


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
    most `limit` from at most `max_pages` pages; the flag says whether more were left
    (GetLogEvents, forward pages)."""
    logs = clients.client(environment, "logs")
    messages: list[str] = []
    token = None
    # botocore has no paginator for GetLogEvents: its forward token never ends, it repeats
    # itself at the end of the stream, which is how the loop below knows it is done.
    for _page in range(max_pages):
        kwargs = {
            "logGroupName": group,
            "logStreamName": stream,
            "startTime": start_ms,
            "endTime": end_ms + 1,
            "startFromHead": True,
            **({"nextToken": token} if token else {}),
        }
        page = clients.call(logs.get_log_events, **kwargs)
        messages += [event.get("message", "") for event in page.get("events", [])]
        if len(messages) >= limit:
            return messages[:limit], True
        if not page.get("events") or page.get("nextForwardToken") in (None, token):
            return messages, False
        token = page["nextForwardToken"]
    return messages, True
