"""Invoking a function: the row a person's request creates, and the worker's side of it.

The browser, the `invoke` command and re-runs all go through `start()`; the Celery task
`run_invocation` calls `run()`. AWS is never called inside a transaction.

Exactly-once on our side: every attempt carries its number. `run()` claims the row with a
conditional UPDATE (queued or retrying, attempts == n - 1 → running, attempts = n). A redelivered
task (the worker died mid-invoke; tasks are acknowledged late) finds its own attempt `running`
and marks the row failed instead of invoking again, because the first call may have run.

The worker's side is on every invoke's path, so it is kept to a few statements: the claim, which
returns the fields the invoke needs (UPDATE … RETURNING, on SQLite and PostgreSQL), the
environment's row, the function's (what the invoke ran with), and the outcome's UPDATE (in a
transaction only when a failure is grouped).
"""

import json
import logging
import random
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models.functions import Now
from django.utils import timezone

from invocations import aws
from invocations.access import audit, redaction
from invocations.access.actor import Actor
from invocations.failures import async_outcome, grouping
from invocations.invoking import logs
from invocations.invoking.persist import persist
from invocations.models import Environment, Function, Invocation, clock
from invocations.ops import sending
from invocations.shared.text import storable

log = logging.getLogger(__name__)

MAX_STORED_BYTES = aws.LAMBDA_SYNC_LIMIT
WORKER_LOST = "worker lost during invoke; it may have run, see the logs"
BROKER_DOWN = "BrokerUnavailable"
BROKER_DOWN_TEXT = (
    "The task broker (Redis) did not answer, so no worker has this invocation yet. It stays "
    "queued and is sent as soon as the broker is back (nothing was invoked)."
)
THROTTLE_CODES = {"TooManyRequestsException", "ThrottlingException"}


@dataclass(frozen=True)
class Retry:
    attempt: int
    delay: float


@dataclass(frozen=True)
class Claimed:
    """What the attempt that claimed a row needs to invoke its function."""

    pk: int
    environment: Environment
    function_id: int | None
    function_name: str
    qualifier: str
    invocation_type: str
    payload: str


def start(
    *,
    environment: Environment,
    function_name: str,
    qualifier: str = "",
    invocation_type: str = Invocation.Type.REQUEST_RESPONSE,
    payload: str = "",
    actor: Actor,
    rerun_of: Invocation | None = None,
) -> Invocation:
    """Create the `queued` row and its audit event, and enqueue the task once they commit."""
    # The function's key only (names are unique in an environment): no Function row is built.
    function_id = next(
        iter(
            Function.objects.filter(environment=environment, name=function_name).values_list(
                "pk", flat=True
            )[:1]
        ),
        None,
    )
    with transaction.atomic(durable=True):
        invocation = Invocation.objects.create(
            environment=environment,
            function_id=function_id,
            function_name=function_name,
            qualifier=qualifier,
            invocation_type=invocation_type,
            payload=payload,
            requested_by=actor.user,
            rerun_of=rerun_of,
        )
        action = "invocation.rerun" if rerun_of else "function.invoke"
        summary = f"{invocation_type} {function_name}"
        if qualifier:
            summary += f":{qualifier}"
        if rerun_of:
            summary += f" (re-run of #{rerun_of.pk})"
        audit.record(
            action,
            actor=actor,
            target=invocation,
            summary=summary,
            details={
                "environment": environment.name,
                "function": function_name,
                "qualifier": qualifier,
                "type": invocation_type,
                "payload_bytes": len(payload.encode("utf-8")),
                "rerun_of": rerun_of.pk if rerun_of else None,
            },
        )
        pk = invocation.pk
        transaction.on_commit(lambda: enqueue(pk))
    return invocation


def enqueue(pk: int) -> bool:
    """Send run_invocation(pk) to the broker. When the broker does not answer, the row stays
    `queued` and says why (instead of a 500 for a row that was saved), and requeue_unsent()
    sends it once the broker is back. Returns whether it was sent."""

    def unsent(exc: Exception) -> None:
        Invocation.objects.filter(pk=pk, status=Invocation.Status.QUEUED).update(
            **redaction.copies(
                "Invocation", {"error_code": BROKER_DOWN, "error_text": BROKER_DOWN_TEXT}
            )
        )

    return sending.send(sending.RUN_INVOCATION, pk, on_failure=unsent)


def requeue_unsent(limit: int = 1000) -> int:
    """Send the invocations whose enqueue failed (beat); a second copy of a row merely waiting
    in a busy broker would look like a lost worker's redelivery, so only those."""
    return sending.resend(
        Invocation.objects.filter(status=Invocation.Status.QUEUED, error_code=BROKER_DOWN),
        {"error_code": "", "error_text": "", "error_text_redacted": ""},
        enqueue,
        limit,
    )


def backoff(attempt: int) -> float:
    """Full jitter: uniform between 0 and min(cap, base * 2^(attempt - 1))."""
    ceiling = min(settings.THROTTLE_RETRY_CAP, settings.THROTTLE_RETRY_BASE * 2 ** (attempt - 1))
    return random.uniform(0, ceiling)


def _finish(pk: int, attempt: int, **fields: Any) -> None:
    fields.setdefault("finished_at", Now())  # the database's clock, as started_at
    fields.setdefault("next_attempt_at", None)
    redaction.copies("Invocation", fields)
    # Only the attempt that holds the row writes its outcome.
    written = Invocation.objects.filter(pk=pk, attempts=attempt)
    if fields.get("status") not in grouping.FAILED_INVOCATION_STATUSES:
        written.update(**fields)  # one statement: no transaction to open and commit
        return
    with transaction.atomic():
        if written.update(**fields):
            # A replay is left alone here: it is an attempt of the event it replays
            # (replay.py records it there), never a failure of its own.
            grouping.group_invocation(Invocation.objects.select_related("environment").get(pk=pk))


def _claim_sql() -> str:
    quote = connection.ops.quote_name
    column = {
        field.name: quote(field.column)
        for field in Invocation._meta.concrete_fields
        if field.name in _CLAIM_COLUMNS and field.column
    }
    return (
        f"UPDATE {quote(Invocation._meta.db_table)} SET {column['status']} = %s, "
        f"{column['attempts']} = %s, {column['next_attempt_at']} = NULL, "
        # The database's clock: the Workers page judges "stuck" by it (models/clock.py).
        f"{column['started_at']} = COALESCE({column['started_at']}, {clock.sql()}) "
        f"WHERE {column['id']} = %s AND {column['status']} IN (%s, %s) "
        f"AND {column['attempts']} = %s "
        f"RETURNING {', '.join(column[name] for name in _RETURNED)}"
    )


_RETURNED = ("environment", "function", "function_name", "qualifier", "invocation_type", "payload")
_CLAIM_COLUMNS = ("id", "status", "attempts", "next_attempt_at", "started_at", *_RETURNED)


def _claim(pk: int, attempt: int) -> Claimed | None:
    """Attempt `attempt` takes the row if it is still waiting for that attempt; None if not.

    One conditional UPDATE that returns the fields the invoke needs. Through the ORM, an UPDATE
    and then a SELECT of the row joined to its environment cost the worker about as much CPU
    as the invoke itself."""
    with connection.cursor() as cursor:
        cursor.execute(
            _claim_sql(),
            [
                Invocation.Status.RUNNING.value,
                attempt,
                pk,
                Invocation.Status.QUEUED.value,
                Invocation.Status.THROTTLED_RETRYING.value,
                attempt - 1,
            ],
        )
        row = cursor.fetchone()
    if row is None:
        return None
    environment_id, function_id, function_name, qualifier, invocation_type, payload = row
    return Claimed(
        pk=pk,
        environment=Environment.objects.get(pk=environment_id),
        function_id=function_id,
        function_name=function_name,
        qualifier=qualifier,
        invocation_type=invocation_type,
        payload=payload,
    )


def run(pk: int, attempt: int = 1) -> Retry | None:
    """Do attempt `attempt` of invocation `pk`. Returns a Retry when Lambda throttled it and
    another attempt is due (the task schedules it), else None."""
    # Every database step of an invoke outlives a lost connection (persist.py): a claimed
    # row whose outcome is never written would stay `running` for good.
    claimed = persist(lambda: _claim(pk, attempt), "claiming an invocation")
    if claimed is None:
        row = persist(
            lambda: Invocation.objects.filter(pk=pk).values("status", "attempts").first(),
            "reading an invocation",
        )
        if row and row["status"] == Invocation.Status.RUNNING and row["attempts"] == attempt:
            log.warning(
                "invocation %s: attempt %s delivered again; not invoking twice", pk, attempt
            )
            persist(
                lambda: _finish(
                    pk,
                    attempt,
                    status=Invocation.Status.FAILED,
                    error_code="WorkerLost",
                    error_text=WORKER_LOST,
                ),
                "writing a lost invocation",
            )
        # Anything else is a stale duplicate (a later attempt holds the row, or it is done).
        return None

    try:
        result = aws.invoke(
            claimed.environment,
            claimed.function_name,
            claimed.qualifier,
            claimed.invocation_type,
            claimed.payload.encode("utf-8") or b"{}",
        )
    except aws.AwsError as error:
        failure = error
        return persist(lambda: _failed(claimed, attempt, failure), "writing a failed invocation")

    fields = outcome_fields(claimed.invocation_type, result)
    function = None
    if claimed.function_id:
        # Only what ran_with reads: the whole row (its versions, mappings and variable names
        # are JSON) took a quarter of the worker's own CPU per invoke (bench/invoke_overhead.py).
        found = Function.objects.filter(pk=claimed.function_id).only(*RAN_WITH_FIELDS)
        function = persist(lambda: next(iter(found.order_by()[:1]), None), "reading a function")
    fields.update(ran_with(function, claimed.qualifier, fields["executed_version"]))
    persist(lambda: _finish(pk, attempt, **fields), "writing an invocation's outcome")
    if claimed.invocation_type == Invocation.Type.EVENT and fields["request_id"]:
        # The outcome record may be ingested before this row has its request ID.
        persist(
            lambda: async_outcome.link_and_settle(
                Invocation.objects.only("pk", "environment_id", "request_id").get(pk=pk)
            ),
            "linking an invocation's records",
        )
    return None


# The Function fields ran_with() and Function.ran_with() read.
RAN_WITH_FIELDS = ("aliases", "code_sha256", "memory_size", "timeout", "version_configs")


def ran_with(function: Function | None, qualifier: str, executed_version: str) -> dict[str, Any]:
    """The code (CodeSha256) and configuration the invocation ran with, as the inventory knows
    them for the version that ran: Lambda's executed version, or for an Event invoke (which
    answers 202 without one) the version its qualifier names or its alias points to."""
    if function is None:
        return {}
    version = executed_version
    if not version:
        qualifier = qualifier or "$LATEST"
        aliases = {a.get("Name"): a.get("FunctionVersion", "") for a in function.aliases}
        version = aliases.get(qualifier, qualifier)
    config = function.ran_with(version)
    return {
        "code_sha256": config.get("code_sha256", "") or "",
        "configured_memory_mb": config.get("memory_size"),
        "configured_timeout_s": config.get("timeout"),
    }


def _failed(claimed: Claimed, attempt: int, error: aws.AwsError) -> Retry | None:
    if error.code in THROTTLE_CODES or error.status == 429:
        if attempt < settings.THROTTLE_RETRY_ATTEMPTS:
            delay = backoff(attempt)
            Invocation.objects.filter(pk=claimed.pk, attempts=attempt).update(
                status=Invocation.Status.THROTTLED_RETRYING,
                next_attempt_at=timezone.now() + timedelta(seconds=delay),
                error_code=error.code,
                **redaction.copies("Invocation", {"error_text": error.message}),
            )
            return Retry(attempt + 1, delay)
        _finish(
            claimed.pk,
            attempt,
            status=Invocation.Status.THROTTLED,
            error_code=error.code,
            error_text=f"{error.message} (throttled on all {attempt} attempts)",
        )
        return None
    _finish(
        claimed.pk,
        attempt,
        status=Invocation.Status.FAILED,
        error_code=error.code,
        error_text=explain(claimed.environment, error),
    )
    return None


def explain(environment: Environment, error: aws.AwsError) -> str:
    """AWS's message, with what it means for the person looking at the page."""
    endpoint = environment.endpoint_url or "AWS"
    if error.access_denied:
        return str(error)  # the action, the resource, and the policy statement that has it
    if error.code in {"EndpointConnectionError", "ConnectTimeoutError", "ConnectionClosedError"}:
        return f"Could not reach {endpoint}: {error.message}. Nothing was invoked."
    if error.code == "ReadTimeoutError":
        return (
            f"No answer from {endpoint} within {settings.AWS_READ_TIMEOUT:g} s: {error.message}. "
            "It may have run, see the logs."
        )
    return error.message


def outcome_fields(invocation_type: str, result: aws.InvokeResult) -> dict[str, Any]:
    """The Invocation fields an invoke's answer fills in."""
    if result.function_error:
        status = Invocation.Status.FUNCTION_ERROR
    elif invocation_type == Invocation.Type.EVENT:
        status = Invocation.Status.ACCEPTED
    else:
        status = Invocation.Status.SUCCEEDED
    payload = result.payload[:MAX_STORED_BYTES].decode("utf-8", "replace")
    tail = logs.parse_tail(result.log_result) if result.log_result else logs.Tail()
    fields = {
        "status": status,
        "status_code": result.status_code,
        "function_error": result.function_error,
        "response_payload": payload,
        "log_tail": result.log_result[:MAX_STORED_BYTES],
        "request_id": result.request_id or tail.request_id,
        "executed_version": result.executed_version or tail.version,
        "error_code": "",
        "error_text": "",
    }
    if result.payload_truncated:
        fields["error_text"] = "The response was larger than 6 MB; only the first 6 MB is kept."
    if result.function_error:
        fields["error_code"], fields["error_text"] = _error_summary(payload)
    fields.update(tail.report)
    return fields


def _error_summary(payload: str) -> tuple[str, str]:
    try:
        body = json.loads(payload)
    except (ValueError, RecursionError):
        return "", storable(payload[:1000])
    if not isinstance(body, dict):
        return "", storable(payload[:1000])
    # Parsed strings may hold what the JSON escaped: lone surrogates, NUL.
    return (
        storable(str(body.get("errorType", "")))[:100],
        storable(str(body.get("errorMessage", "")))[:5000],
    )
