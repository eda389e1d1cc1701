"""A realistic incident for the page-layout tests and the screenshot tour: long function names
and ARNs (Lambda allows 64 characters a name), a long handler, long error messages, an OnFailure
record with its dead letter, a synchronous failure, a replay and a comment."""

import contextlib
import json
import uuid
from dataclasses import dataclass
from datetime import timedelta

from django.utils import timezone

from invocations.failures import grouping
from invocations.models import (
    Environment,
    ExecutionRecord,
    FailureGroup,
    Function,
    GroupActivity,
    Invocation,
    ReplayBatch,
    WatchedQueue,
)

LONG_NAME = "payments-settlement-reconciliation-worker-eu-central-1-prod-v2"
ACCOUNT = "123456789012"
LONG_HANDLER = "src/handlers/settlement/reconciliation_worker.handle_settlement_batch_event"
LONG_MESSAGE = (
    "Settlement batch 2026-11-30T09:58:12.431Z/acct_1PZx9fLkQ2mR7sT4uV6wX8yZ failed: the ledger "
    "service answered 503 Service Unavailable after 3 attempts (upstream connect error or "
    "disconnect/reset before headers, reset reason: connection termination)"
)
STACK = "\n".join(
    [
        "Traceback (most recent call last):",
        f'  File "/var/task/{LONG_HANDLER.rsplit(".", 1)[0]}.py", line 214, in '
        "handle_settlement_batch_event",
        "    ledger.post_entries(batch_id=batch.id, entries=entries, idempotency_key=key)",
        '  File "/var/task/src/clients/ledger.py", line 88, in post_entries',
        "    raise LedgerUnavailable(response.status_code, response.text)",
        f"LedgerUnavailable: {LONG_MESSAGE}",
    ]
)


def write_logs(environment: Environment, incident: "Incident") -> None:
    """The CloudWatch Logs lines of the latest record's three attempts, in the sandbox: long
    stream names and lines wider than any phone."""
    import time

    from invocations import aws

    logs = aws.client(environment, "logs")
    group = f"/aws/lambda/{LONG_NAME}"
    with contextlib.suppress(logs.exceptions.ResourceAlreadyExistsException):
        logs.create_log_group(logGroupName=group)
    request_id = incident.records[0].request_id
    now = int(time.time() * 1000)
    for attempt in range(3):
        stream = f"2026/11/30/[$LATEST]{uuid.uuid4().hex}"
        logs.create_log_stream(logGroupName=group, logStreamName=stream)
        lines = [
            f"START RequestId: {request_id} Version: 42",
            f"[ERROR] LedgerUnavailable: {LONG_MESSAGE}",
            *STACK.splitlines(),
            f"END RequestId: {request_id}",
            f"REPORT RequestId: {request_id}\tDuration: 2045.12 ms\tBilled Duration: 2046 ms"
            "\tMemory Size: 1024 MB\tMax Memory Used: 187 MB",
        ]
        start = now - (3 - attempt) * 60_000
        logs.put_log_events(
            logGroupName=group,
            logStreamName=stream,
            logEvents=[
                {"timestamp": start + index, "message": line} for index, line in enumerate(lines)
            ],
        )


@dataclass
class Incident:
    group: FailureGroup
    records: list[ExecutionRecord]
    dead_letter: ExecutionRecord
    invocation: Invocation
    replay: Invocation
    batch: ReplayBatch
    function: Function
    sync: Invocation

    def urls(self) -> dict[str, str]:
        """Every list and detail page, by a short name."""
        return {
            "triage": "/",
            "group": f"/groups/{self.group.pk}/",
            "group, a synchronous failure": f"/groups/{self.group.pk}/?occurrence=i{self.sync.pk}",
            "functions": "/functions/",
            "function": f"/functions/{self.function.name}/",
            "invocations": "/invocations/",
            "invocation": f"/invocations/{self.invocation.pk}/",
            "records": "/records/",
            "record": f"/records/{self.records[0].pk}/",
            "dead letter": f"/records/{self.dead_letter.pk}/",
            "request": f"/requests/{self.records[0].request_id}/",
            "queues": "/queues/",
            "replay plan": f"/replay/?group={self.group.pk}",
            "replay batch": f"/replay/{self.batch.pk}/",
            "alerts": "/alerts/",
            "alert deliveries": "/alerts/deliveries/",
            "health": "/health/",
        }


def _queue(environment, name: str, kind: str) -> WatchedQueue:
    queue, _ = WatchedQueue.objects.get_or_create(
        environment=environment,
        url=f"https://sqs.eu-central-1.amazonaws.com/{ACCOUNT}/{name}",
        defaults={"kind": kind, "function_name": LONG_NAME},
    )
    return queue


def seed(environment: Environment | None = None, user=None, occurrences: int = 6) -> Incident:
    environment = environment or Environment.objects.default()
    arn = f"arn:aws:lambda:eu-central-1:{ACCOUNT}:function:{LONG_NAME}"
    function = Function.objects.create(
        environment=environment,
        name=LONG_NAME,
        arn=arn,
        runtime="python3.12",
        handler=LONG_HANDLER,
        description="Reconciles card settlements with the ledger, one batch per SQS message",
        memory_size=1024,
        timeout=120,
        last_modified="2026-11-30T09:41:07.000+0000",
    )
    on_failure = _queue(environment, f"{LONG_NAME}-on-failure-destination", "destination")
    dead_letters = _queue(environment, f"{LONG_NAME}-dead-letter-queue", "dlq")
    now = timezone.now()
    records = []
    for index in range(occurrences):
        request_id = str(uuid.uuid4())
        record = ExecutionRecord.objects.create(
            environment=environment,
            queue=on_failure,
            message_id=str(uuid.uuid4()),
            kind=ExecutionRecord.Kind.FAILURE,
            condition="RetriesExhausted" if index % 3 else "EventAgeExceeded",
            request_id=request_id,
            function_arn=f"{arn}:live",
            function_name=LONG_NAME,
            qualifier="live",
            executed_version="42" if index < occurrences // 2 else "41",
            approximate_invoke_count=3,
            status_code=200,
            function_error="Unhandled",
            error_type="LedgerUnavailable",
            error_message=LONG_MESSAGE,
            stack_trace=STACK,
            request_payload={
                "batchId": f"stl_{index:04d}_{request_id}",
                "merchantAccountArn": f"arn:aws:payments:eu-central-1:{ACCOUNT}:merchant/m_{index}",
                "card": {"number": "4111111111111111", "expiry": "12/29"},
                "authorization": "Bearer eyJhbGciOiJIUzI1NiJ9.c2VjcmV0.sig",
            },
            raw_body=json.dumps({"requestContext": {"requestId": request_id}}),
        )
        received = now - timedelta(minutes=7 * index + 2)
        ExecutionRecord.objects.filter(pk=record.pk).update(received_at=received)
        record.received_at = received
        records.append(record)
    dead_letter = ExecutionRecord.objects.create(
        environment=environment,
        queue=dead_letters,
        message_id=str(uuid.uuid4()),
        kind=ExecutionRecord.Kind.DLQ,
        request_id=records[0].request_id,
        function_name=LONG_NAME,
        error_message=LONG_MESSAGE,
        dlq_error_code=200,
        request_payload=records[0].request_payload,
        raw_body="{}",
    )
    grouping.group_records([*reversed(records), dead_letter])
    group = FailureGroup.objects.get(records=records[0])
    invocation = Invocation.objects.create(
        environment=environment,
        function_name=LONG_NAME,
        qualifier="live",
        invocation_type=Invocation.Type.EVENT,
        status=Invocation.Status.ACCEPTED,
        status_code=202,
        request_id=records[0].request_id,
        payload=json.dumps(records[0].request_payload),
        requested_by=user,
    )
    ExecutionRecord.objects.filter(request_id=records[0].request_id).update(invocation=invocation)
    batch = ReplayBatch.objects.create(
        environment=environment,
        group=group,
        created_by=user,
        function_name=LONG_NAME,
        qualifier="live",
        record_ids=[records[1].pk],
        status=ReplayBatch.Status.DONE,
        position=1,
        succeeded=1,
        finished_at=now,
    )
    replay = Invocation.objects.create(
        environment=environment,
        function_name=LONG_NAME,
        qualifier="live",
        invocation_type=Invocation.Type.REQUEST_RESPONSE,
        status=Invocation.Status.SUCCEEDED,
        status_code=200,
        request_id=str(uuid.uuid4()),
        executed_version="43",
        duration_ms=812.4,
        payload=json.dumps(records[1].request_payload),
        response_payload='{"settled": true}',
        replay_of=records[1],
        replay_batch=batch,
        requested_by=user,
    )
    # A synchronous failure of the same error, just before the latest record: its log tail has
    # lines far wider than a phone.
    sync_id = str(uuid.uuid4())
    failed_sync = Invocation.objects.create(
        environment=environment,
        function_name=LONG_NAME,
        qualifier="live",
        status=Invocation.Status.FUNCTION_ERROR,
        status_code=200,
        function_error="Unhandled",
        error_code="LedgerUnavailable",
        error_text=LONG_MESSAGE,
        request_id=sync_id,
        executed_version="42",
        payload=json.dumps(records[0].request_payload),
        log_tail="\n".join(
            [
                f"START RequestId: {sync_id} Version: 42",
                f"[ERROR] LedgerUnavailable: {LONG_MESSAGE}",
                *STACK.splitlines(),
                f"END RequestId: {sync_id}",
                f"REPORT RequestId: {sync_id}\tDuration: 2045.12 ms\tBilled Duration: 2046 ms"
                "\tMemory Size: 1024 MB\tMax Memory Used: 187 MB",
            ]
        ),
        failure_group=group,
        requested_by=user,
    )
    Invocation.objects.filter(pk=failed_sync.pk).update(created_at=now - timedelta(minutes=5))
    if user is not None:
        GroupActivity.objects.create(
            group=group,
            actor=user,
            kind="comment",
            text="Ledger is failing over to eu-west-1; replay the backlog once it is green. "
            "Tracking in INC-20261130-0042 (https://status.example.com/incidents/01JDXK8ZQ4).",
        )
    return Incident(group, records, dead_letter, invocation, replay, batch, function, failed_sync)
