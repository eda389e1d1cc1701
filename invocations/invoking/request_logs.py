"""The CloudWatch Logs look-ups behind the two log panels: every attempt of the request an
invocation made, or a record names. An attempt is every line of its log stream from the
request's START to its REPORT: the function's own output (print, a traceback) carries no request
ID, so filtering by the ID alone would leave only Lambda's START/END/REPORT lines.

Each answers lines or an error sentence, never raises an AWS error: the panels are loaded by
htmx inside a page that must stay up. The calls use the short read timeout (aws.SHORT) and read
a bounded number of pages, so a web request never waits long on CloudWatch."""

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from invocations import aws
from invocations.invoking import logs
from invocations.models import Environment, ExecutionRecord, Invocation

# An invocation's log starts a little before its row was saved (clocks differ).
INVOCATION_LOOKBACK = timedelta(minutes=5)
# A record comes at most MaximumEventAgeInSeconds (6 h) plus Lambda's retry waits after the event.
RECORD_LOOKBACK = timedelta(hours=7)
RECORD_LOOKAHEAD = timedelta(minutes=20)
MAX_ATTEMPTS_SHOWN = 10
MAX_LINES_PER_ATTEMPT = 1000


@dataclass
class RequestLog:
    group: str
    attempts: list[dict[str, Any]] = field(default_factory=list)
    more: bool = False
    error: str = ""


def group_of(function_name: str) -> str:
    return f"/aws/lambda/{function_name}"


def _error_sentence(error: aws.AwsError, group: str, missing: str) -> str:
    if error.code == "ResourceNotFoundException":
        return f"The log group {group} {missing}."
    if error.access_denied:
        return str(error)
    return f"CloudWatch Logs answered {error.code}: {error.message}"


def for_invocation(invocation: Invocation) -> RequestLog:
    """Every attempt's lines of the invocation's request (an Event invocation may run up to
    three times)."""
    found = RequestLog(group=group_of(invocation.function_name))
    if not invocation.request_id:
        found.error = "This invocation has no request ID yet, so there is no log to find."
        return found
    try:
        found.attempts, found.more = _attempts(
            invocation.environment,
            found.group,
            invocation.request_id,
            invocation.created_at,
            lookback=INVOCATION_LOOKBACK,
            log_id="full-log",
        )
    except aws.AwsError as error:
        found.error = _error_sentence(error, found.group, "does not exist (yet)")
    return found


def for_record(record: ExecutionRecord) -> RequestLog:
    """Every attempt's lines of the request the record names."""
    function = record.function_name or record.queue.function_name
    found = RequestLog(group=group_of(function))
    if not record.request_id or not function:
        found.error = "This record names no request ID or function, so there is no log to find."
        return found
    when = record.record_timestamp or record.received_at
    try:
        found.attempts, found.more = _attempts(
            record.environment, found.group, record.request_id, when
        )
    except aws.AwsError as error:
        found.error = _error_sentence(error, found.group, "does not exist")
    return found


def _attempts(
    environment: Environment,
    group: str,
    request_id: str,
    when: datetime,
    lookback: timedelta = RECORD_LOOKBACK,
    log_id: str = "record-log",
) -> tuple[list[dict[str, Any]], bool]:
    """[{"stream", "started", "lines"}] for each START RequestId line of the request: the lines
    that carry the request ID are found with a filter, then each attempt's whole window
    (the function's own output does not carry the ID) is read from its stream."""
    start_ms = int((when - lookback).timestamp() * 1000)
    events, more = aws.filter_log_events(environment, group, f'"{request_id}"', start_ms=start_ms)
    windows: list[list[Any]] = []  # [stream, start, end]
    # CloudWatch orders the events of a filter by stream, not by time.
    events.sort(key=lambda event: event.timestamp)
    for event in events:
        if event.message.startswith(f"START RequestId: {request_id}"):
            windows.append([event.stream, event.timestamp, None])
        elif event.message.startswith(("END RequestId:", "REPORT RequestId:")):
            for window in reversed(windows):
                if window[0] == event.stream:
                    window[2] = event.timestamp
                    break
    attempts = []
    for stream, started, ended in windows[:MAX_ATTEMPTS_SHOWN]:
        end = ended if ended is not None else started + int(RECORD_LOOKAHEAD.total_seconds() * 1000)
        messages, cut = aws.log_events_between(
            environment, group, stream, started, end, limit=MAX_LINES_PER_ATTEMPT
        )
        messages, trimmed = _one_attempt(messages, request_id)
        cut = cut and not trimmed
        attempts.append(
            {
                "stream": stream,
                "started": _time(started),
                "lines": logs.lines_of(messages),
                "cut": cut,
            }
        )
    if not attempts and events:
        # No START line in range (cut by the look-back): show what matched.
        attempts.append(
            {
                "stream": ", ".join(sorted({e.stream for e in events})),
                "started": _time(events[0].timestamp),
                "lines": logs.lines_of([e.message for e in events]),
                "cut": more,
            }
        )
    for number, attempt in enumerate(attempts, start=1):
        attempt["log_id"] = f"{log_id}-{number}"
    return attempts, more or len(windows) > MAX_ATTEMPTS_SHOWN


def _one_attempt(messages: list[str], request_id: str) -> tuple[list[str], bool]:
    """The lines of one attempt: up to its REPORT line, and never into the next request that
    starts in the same stream (a window read by time may hold a neighbour's lines when two
    events share a millisecond, or when the attempt has no REPORT yet)."""
    for index, message in enumerate(messages):
        if message.startswith(f"REPORT RequestId: {request_id}"):
            return messages[: index + 1], True
        if index and message.startswith("START RequestId:"):
            return messages[:index], True
    return messages, False


def _time(millis: int) -> datetime:
    return datetime.fromtimestamp(millis / 1000, tz=UTC)
