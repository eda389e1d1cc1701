"""An Event invocation's status is its outcome once Lambda reports it, on every page that lists
it; and when nothing will report it, the page says so instead of waiting forever."""

import json
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from invocations.failures import async_outcome
from invocations.ingest import polling
from invocations.models import Environment, ExecutionRecord, Function, Invocation, WatchedQueue

REQUEST_ID = "0b9a4c57-3f1e-4f8e-9d55-6e1b1e0c2a77"


def on_failure_body(request_id=REQUEST_ID, condition="RetriesExhausted", count=3):
    return json.dumps(
        {
            "version": "1.0",
            "timestamp": "2026-11-30T09:15:07.000Z",
            "requestContext": {
                "requestId": request_id,
                "functionArn": "arn:aws:lambda:us-east-1:123456789012:function:orders:$LATEST",
                "condition": condition,
                "approximateInvokeCount": count,
            },
            "requestPayload": {"order": -1},
            "responseContext": {
                "statusCode": 200,
                "executedVersion": "$LATEST",
                "functionError": "Unhandled",
            },
            "responsePayload": {
                "errorMessage": "order must be a positive integer, got -1",
                "errorType": "ValueError",
            },
        }
    )


def dead_letter(request_id=REQUEST_ID, message_id="dlq-1"):
    return {
        "MessageId": message_id,
        "Body": json.dumps({"order": -1}),
        "MessageAttributes": {
            "RequestID": {"DataType": "String", "StringValue": request_id},
            "ErrorCode": {"DataType": "Number", "StringValue": "200"},
            "ErrorMessage": {"DataType": "String", "StringValue": "order must be positive"},
        },
    }


@pytest.fixture
def env(db):
    return Environment.objects.default()


@pytest.fixture
def orders(env):
    return Function.objects.create(
        environment=env,
        name="orders",
        on_failure_destination="arn:aws:sqs:us-east-1:123456789012:orders-on-failure",
        dlq_target="arn:aws:sqs:us-east-1:123456789012:orders-dlq",
        on_success_destination="arn:aws:sqs:us-east-1:123456789012:orders-on-success",
    )


def queue(env, name, kind):
    return WatchedQueue.objects.create(
        environment=env,
        url=f"http://127.0.0.1:4566/123456789012/{name}",
        kind=kind,
        function_name="orders",
    )


def accepted(env, function, alice, accepted_at=None):
    accepted_at = accepted_at or timezone.now()
    return Invocation.objects.create(
        environment=env,
        function=function,
        function_name=function.name if function else "orders",
        invocation_type="Event",
        payload='{"order": -1}',
        requested_by=alice,
        status="accepted",
        status_code=202,
        request_id=REQUEST_ID,
        attempts=1,
        started_at=accepted_at,
        finished_at=accepted_at,
    )


def test_a_failed_event_reads_failed_after_3_attempts_on_every_page_that_lists_it(
    client, alice, env, orders
):
    invocation = accepted(env, orders, alice)
    destination = queue(env, "orders-on-failure", "destination")
    client.force_login(alice)

    polling.store_batch(destination, [{"MessageId": "m-1", "Body": on_failure_body()}])

    record = ExecutionRecord.objects.get()
    pages = {
        "functions": client.get(reverse("functions")).text,
        "invocations": client.get(reverse("invocations")).text,
        "function": client.get(reverse("function", args=["orders"])).text,
        "record": client.get(reverse("record", args=[record.pk])).text,
        "invocation": client.get(reverse("invocation", args=[invocation.pk])).text,
    }
    for name, html in pages.items():
        assert "failed after 3 attempts" in html, name
        assert "accepted (202)" in html, name
        assert 'data-status="accepted"' not in html, name
    invocation.refresh_from_db()
    assert invocation.attempts == 3
    assert invocation.finished_at.isoformat().startswith("2026-11-30T09:15:07")


def test_the_outcome_is_kept_when_the_record_arrived_before_the_request_id(alice, env, orders):
    invocation = accepted(env, orders, alice)
    Invocation.objects.filter(pk=invocation.pk).update(request_id="")
    polling.store_batch(
        queue(env, "orders-on-failure", "destination"),
        [{"MessageId": "m-1", "Body": on_failure_body()}],
    )
    assert Invocation.objects.get(pk=invocation.pk).status == "accepted"

    invocation.request_id = REQUEST_ID
    Invocation.objects.filter(pk=invocation.pk).update(request_id=REQUEST_ID)
    async_outcome.link_and_settle(invocation)

    assert Invocation.objects.get(pk=invocation.pk).status_text == "failed after 3 attempts"


@pytest.mark.parametrize("condition", ["EventAgeExceeded", "ZeroReservedConcurrency"])
def test_an_event_that_never_ran_reads_never_ran_with_why(client, alice, env, orders, condition):
    invocation = accepted(env, orders, alice)
    polling.store_batch(
        queue(env, "orders-on-failure", "destination"),
        [{"MessageId": "m-1", "Body": on_failure_body(condition=condition, count=0)}],
    )
    client.force_login(alice)

    html = client.get(reverse("invocations")).text

    assert f"never ran: {condition}" in html
    assert Invocation.objects.get(pk=invocation.pk).status == "never_ran"


@pytest.mark.parametrize("condition", ["EventAgeExceeded", "ZeroReservedConcurrency"])
def test_an_event_that_never_ran_shows_no_attempt_and_no_empty_message(
    client, alice, env, orders, condition
):
    invocation = accepted(env, orders, alice)
    polling.store_batch(
        queue(env, "orders-on-failure", "destination"),
        [{"MessageId": "m-1", "Body": on_failure_body(condition=condition, count=0)}],
    )
    client.force_login(alice)

    html = client.get(reverse("invocation", args=[invocation.pk])).text

    attempts = html.split('<span class="label">Attempts</span>', 1)[1]
    assert attempts.startswith('<span class="value">0</span>')
    assert f'<strong class="mono">{condition}</strong>:' not in html


def test_a_dead_letter_then_its_destination_record_gives_the_attempts(alice, env, orders):
    invocation = accepted(env, orders, alice)

    polling.store_batch(queue(env, "orders-dlq", "dlq"), [dead_letter()])
    after_letter = Invocation.objects.get(pk=invocation.pk).status_text
    polling.store_batch(
        queue(env, "orders-on-failure", "destination"),
        [{"MessageId": "m-1", "Body": on_failure_body()}],
    )

    assert after_letter == "failed (dead letter)"
    assert Invocation.objects.get(pk=invocation.pk).status_text == "failed after 3 attempts"


def test_init_duration_is_shown_only_when_a_report_line_said_so(client, alice, env, orders):
    invocation = accepted(env, orders, alice)
    warm = Invocation.objects.create(
        environment=env,
        function_name="orders",
        status="succeeded",
        status_code=200,
        duration_ms=3.2,
        billed_duration_ms=4,
        memory_size_mb=128,
        max_memory_used_mb=40,
    )
    client.force_login(alice)

    event_page = client.get(reverse("invocation", args=[invocation.pk])).text
    warm_page = client.get(reverse("invocation", args=[warm.pk])).text

    assert "Init duration" not in event_page
    assert "(warm" not in event_page
    assert "Init duration" in warm_page and "warm start" in warm_page


def test_only_on_failure_says_no_failure_reported_once_the_event_age_passed(client, alice, env):
    only_failure = Function.objects.create(
        environment=env,
        name="throttled",
        on_failure_destination="arn:aws:sqs:us-east-1:123456789012:throttled-on-failure",
        async_max_retries=0,
        async_max_event_age=60,
    )
    fresh = accepted(env, only_failure, alice)
    old = accepted(env, only_failure, alice, accepted_at=timezone.now() - timedelta(minutes=10))
    client.force_login(alice)

    waiting = client.get(reverse("invocation-status", args=[fresh.pk]), HTTP_HX_REQUEST="true")
    done = client.get(reverse("invocation-status", args=[old.pk]), HTTP_HX_REQUEST="true")

    assert "No OnSuccess destination: a success is never reported." in waiting.text
    assert "Waiting for the record" in waiting.text and "hx-trigger" in waiting.text
    assert "No failure reported" in done.text
    assert "Waiting for the record" not in done.text
    assert done.status_code == 286 and "hx-trigger" not in done.text


def test_no_destination_at_all_is_said_at_once_without_polling(client, alice, env):
    bare = Function.objects.create(environment=env, name="hello")
    invocation = accepted(env, bare, alice)
    client.force_login(alice)

    answer = client.get(reverse("invocation-status", args=[invocation.pk]), HTTP_HX_REQUEST="true")

    assert "nothing will report how this event ends" in answer.text
    assert answer.status_code == 286 and "hx-trigger" not in answer.text


def test_a_never_ran_group_names_its_condition_as_the_error(client, alice, env, orders):
    # Lambda sends no response for an event that never ran.
    body = json.loads(on_failure_body(condition="ZeroReservedConcurrency", count=0))
    del body["responseContext"], body["responsePayload"]
    polling.store_batch(
        queue(env, "orders-on-failure", "destination"),
        [{"MessageId": "m-1", "Body": json.dumps(body)}],
    )
    record = ExecutionRecord.objects.get()
    client.force_login(alice)

    html = client.get(reverse("group", args=[record.failure_group_id])).text

    assert '<strong class="mono">ZeroReservedConcurrency</strong></p>' in html
    assert "(no error type)" not in html
