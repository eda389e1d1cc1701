"""What a failed event's reports say about it, and which report to believe.

An asynchronous event is reported by up to three messages (an OnFailure record, a dead letter,
a copy sent back to a queue) and started by an invocation; they arrive in any order. Each says
some of the facts, and some say more than others: an OnFailure record carries the error type,
the stack trace, the executed version and the condition, a dead letter only the message. The
event keeps, for each fact, what the most informative report says, whatever arrived first.

Pure functions over plain attributes: the ingest, the invoker and the data migration (which
holds historical model instances) call them alike.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

# How informative a report is. A later report replaces the facts only if it ranks higher; one
# that ranks lower fills the facts still blank.
RANK_MOVED_BY_SQS = 0  # a dead letter without any of Lambda's attributes
RANK_DEAD_LETTER = 1
RANK_EVENT_INVOCATION = 2  # the Event invocation that started it: qualifier, time
RANK_DESTINATION = 3  # an OnFailure or stream-failure record; a failed synchronous invocation

# Where the time comes from, best first.
HAPPENED_ORDER = ("lambda", "invocation", "sent", "received")

FACT_FIELDS = (
    "error_type",
    "error_message",
    "stack_trace",
    "executed_version",
    "qualifier",
    "condition",
    "attempts",
)
_LIMITS = {"error_type": 256, "executed_version": 32, "qualifier": 128, "condition": 40}


@dataclass(frozen=True)
class Facts:
    rank: int
    error_type: str = ""
    error_message: str = ""
    stack_trace: str = ""
    executed_version: str = ""
    qualifier: str = ""
    condition: str = ""
    attempts: int | None = None
    happened_at: datetime | None = None
    happened_from: str = "received"


def record_rank(record: Any) -> int:
    if record.kind in ("failure", "stream_failure"):
        return RANK_DESTINATION
    if record.error_type or record.error_message or record.dlq_error_code is not None:
        return RANK_DEAD_LETTER
    return RANK_MOVED_BY_SQS


def from_record(record: Any) -> Facts:
    """The facts a failure record (OnFailure, stream failure or dead letter) reports."""
    if record.record_timestamp is not None:
        # A destination record's timestamp is Lambda's; a dead letter's is SQS's SentTimestamp.
        happened_at = record.record_timestamp
        happened_from = "sent" if record.kind == "dlq" else "lambda"
    else:
        happened_at, happened_from = record.received_at, "received"
    return Facts(
        rank=record_rank(record),
        error_type=record.error_type,
        error_message=record.error_message,
        stack_trace=record.stack_trace,
        executed_version=record.executed_version,
        qualifier=record.qualifier,
        condition=record.condition,
        attempts=record.approximate_invoke_count,
        happened_at=happened_at,
        happened_from=happened_from,
    )


def from_event_invocation(invocation: Any) -> Facts:
    """What the Event invocation that started an event adds: how it was called, and when."""
    return Facts(
        rank=RANK_EVENT_INVOCATION,
        qualifier=invocation.qualifier,
        happened_at=invocation.created_at,
        happened_from="invocation",
    )


def from_sync_invocation(invocation: Any) -> Facts:
    """A failed synchronous invocation is its own event, and the whole report of it."""
    return Facts(
        rank=RANK_DESTINATION,
        error_type=invocation.error_code,
        error_message=invocation.error_text,
        stack_trace=stack_trace_of(invocation.response_payload),
        executed_version=invocation.executed_version,
        qualifier=invocation.qualifier,
        attempts=1,
        happened_at=invocation.finished_at or invocation.created_at,
        happened_from="invocation",
    )


def stack_trace_of(response: str) -> str:
    """The stack trace of a function error's answer ({"stackTrace": [...]}), one frame a line."""
    if not response or len(response) > 1_000_000:
        return ""
    try:
        answer = json.loads(response)
    except ValueError:
        return ""
    trace = answer.get("stackTrace") if isinstance(answer, dict) else None
    if isinstance(trace, str):
        return trace[:20000]
    if isinstance(trace, list):
        return "\n".join(str(frame).rstrip("\n") for frame in trace[:200])[:20000]
    return ""


def absorb(event: Any, facts: Facts) -> bool:
    """Take `facts` into `event` (a FailedEvent, saved or not); returns whether they ranked
    higher than what the event held, i.e. the report is now the one the event is shown by."""
    fresh = event.happened_at is None  # nothing taken yet: the first report is the best so far
    better = fresh or facts.rank > event.source_rank
    for name in FACT_FIELDS:
        value = getattr(facts, name)
        if value in ("", None):
            continue
        if isinstance(value, str) and name in _LIMITS:
            value = value[: _LIMITS[name]]
        if better or getattr(event, name) in ("", None):
            setattr(event, name, value)
    if better:
        event.source_rank = facts.rank
    if facts.happened_at is not None and (
        event.happened_at is None
        or HAPPENED_ORDER.index(facts.happened_from) < HAPPENED_ORDER.index(event.happened_from)
    ):
        event.happened_at, event.happened_from = facts.happened_at, facts.happened_from
    return better
