"""The records page and one record's page."""

import json
import time
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from moto import mock_aws

from invocations import aws
from invocations.models import Environment, ExecutionRecord, Invocation, WatchedQueue

pytestmark = pytest.mark.timeout(60)

REQUEST_ID = "6f1c0d2e-8a51-4c43-9c1b-2f6b7b1c1a11"


@pytest.fixture
def env(db):
    return Environment.objects.default()


@pytest.fixture
def queue(env):
    return WatchedQueue.objects.create(
        environment=env,
        url="https://sqs.us-east-1.amazonaws.com/123456789012/orders-on-failure",
        kind="destination",
        function_name="orders",
    )


def make_record(queue, index=0, **fields):
    values = {
        "environment": queue.environment,
        "queue": queue,
        "message_id": f"message-{index}",
        "kind": "failure",
        "condition": "RetriesExhausted",
        "request_id": f"request-{index}",
        "function_name": "orders",
        "function_arn": "arn:aws:lambda:us-east-1:123456789012:function:orders:$LATEST",
        "approximate_invoke_count": 3,
        "status_code": 200,
        "function_error": "Unhandled",
        "error_type": "ValueError",
        "error_message": f"order must be a positive integer, got {-index}",
        "request_payload": {"order": -index},
        "response_payload": {"errorType": "ValueError"},
        "raw_body": json.dumps({"requestContext": {"requestId": f"request-{index}"}}),
        "message_attributes": {},
    }
    values.update(fields)
    return ExecutionRecord.objects.create(**values)


def test_it_lists_records_newest_first_for_a_viewer(client, bob, queue):
    make_record(queue, 1)
    make_record(queue, 2, kind="success", condition="Success", error_type="", error_message="")
    client.force_login(bob)

    response = client.get(reverse("records"))

    assert response.status_code == 200
    body = response.content.decode()
    assert body.index("request-2") < body.index("request-1")
    assert "RetriesExhausted" in body


def test_it_refuses_a_person_without_a_role(client, charlie, queue):
    client.force_login(charlie)

    response = client.get(reverse("records"))

    assert response.status_code == 403


def test_it_filters_by_kind_function_error_type_and_queue_and_counts_per_kind(
    client, bob, queue, env
):
    other_queue = WatchedQueue.objects.create(
        environment=env,
        url="https://sqs.example/1/billing-dlq",
        kind="dlq",
        function_name="billing",
    )
    make_record(queue, 1)
    make_record(queue, 2, kind="success", condition="Success", error_type="", error_message="")
    make_record(other_queue, 3, kind="dlq", function_name="billing", error_type="")
    make_record(queue, 4, error_type="KeyError", error_message="'order'")
    client.force_login(bob)

    by_kind = client.get(reverse("records"), {"kind": "failure"})
    by_function = client.get(reverse("records"), {"function": "billing"})
    by_error = client.get(reverse("records"), {"error_type": "KeyError"})
    by_queue = client.get(reverse("records"), {"queue": other_queue.pk})

    assert [r.request_id for r in by_kind.context["records"]] == ["request-4", "request-1"]
    assert {k["value"]: k["count"] for k in by_kind.context["kinds"]}["success"] == 1
    assert by_kind.context["total"] == 4
    assert [r.request_id for r in by_function.context["records"]] == ["request-3"]
    assert [r.request_id for r in by_error.context["records"]] == ["request-4"]
    assert [r.request_id for r in by_queue.context["records"]] == ["request-3"]


def test_it_searches_by_request_id_or_error_text(client, bob, queue):
    make_record(queue, 1, request_id=REQUEST_ID)
    make_record(queue, 2, error_message="connection reset by peer")
    make_record(queue, 3)
    client.force_login(bob)

    by_id = client.get(reverse("records"), {"q": REQUEST_ID})
    by_text = client.get(reverse("records"), {"q": "RESET BY"})

    assert [r.request_id for r in by_id.context["records"]] == [REQUEST_ID]
    assert [r.request_id for r in by_text.context["records"]] == ["request-2"]


def test_it_filters_by_date_range(client, bob, queue):
    old = make_record(queue, 1)
    make_record(queue, 2)
    ExecutionRecord.objects.filter(pk=old.pk).update(received_at=timezone.now() - timedelta(days=3))
    client.force_login(bob)

    recent = client.get(
        reverse("records"),
        {"since": (timezone.now() - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")},
    )
    older = client.get(
        reverse("records"),
        {"until": (timezone.now() - timedelta(days=2)).strftime("%Y-%m-%dT%H:%M")},
    )

    assert [r.request_id for r in recent.context["records"]] == ["request-2"]
    assert [r.request_id for r in older.context["records"]] == ["request-1"]


def test_it_pages_with_a_keyset_and_keeps_the_filters(client, bob, queue):
    for index in range(60):
        make_record(queue, index)
    client.force_login(bob)

    first = client.get(reverse("records"), {"kind": "failure"})
    query = first.context["next_query"]
    second = client.get(reverse("records") + "?" + query)

    assert len(first.context["records"]) == 50
    assert "kind=failure" in query and "before=" in query
    assert [r.request_id for r in second.context["records"]] == [
        f"request-{i}" for i in range(9, -1, -1)
    ]
    assert second.context["next_query"] == ""


def test_it_returns_only_the_table_to_htmx(client, bob, queue):
    make_record(queue, 1)
    client.force_login(bob)

    response = client.get(reverse("records"), {"kind": "failure"}, headers={"HX-Request": "true"})

    body = response.content.decode()
    assert "<table" in body
    assert "<html" not in body
    assert 'id="record-results"' not in body


def test_the_list_makes_the_same_number_of_queries_for_5_and_50_records(
    client, bob, queue, django_assert_num_queries
):
    client.force_login(bob)
    for index in range(5):
        make_record(queue, index)
    client.get(reverse("records"))  # warm caches that are not per request (content types)
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as few:
        client.get(reverse("records"), {"function": "orders"})
    for index in range(5, 50):
        make_record(queue, index)

    with django_assert_num_queries(len(few)):
        response = client.get(reverse("records"), {"function": "orders"})

    assert len(response.context["records"]) == 50


def test_it_escapes_what_came_from_the_queue(client, bob, queue):
    record = make_record(queue, 1, error_message="<script>alert(1)</script>")
    client.force_login(bob)

    listing = client.get(reverse("records")).content.decode()
    detail = client.get(reverse("record", args=[record.pk])).content.decode()

    assert "<script>alert(1)" not in listing
    assert "<script>alert(1)" not in detail
    assert "&lt;script&gt;alert(1)" in detail


def test_the_record_page_shows_every_field_and_the_payloads(client, bob, queue):
    record = make_record(
        queue, 1, request_id=REQUEST_ID, stack_trace='  File "/var/task/lambda_function.py"'
    )
    client.force_login(bob)

    response = client.get(reverse("record", args=[record.pk]))

    body = response.content.decode()
    assert response.status_code == 200
    for text in [
        REQUEST_ID,
        "RetriesExhausted",
        "ValueError",
        "Unhandled",
        "orders",
        "lambda_function.py",
    ]:
        assert text in body
    assert "Attempts" in body and ">3<" in body
    assert "Request payload" in body and "&quot;order&quot;: -1" in body
    assert f'hx-get="/records/{record.pk}/logs/"' in body


def test_the_record_page_says_never_ran_for_event_age_exceeded(client, bob, queue):
    record = make_record(
        queue, 1, condition="EventAgeExceeded", response_payload=None, approximate_invoke_count=0
    )
    client.force_login(bob)

    body = client.get(reverse("record", args=[record.pk])).content.decode()

    assert "Never ran." in body


def test_the_raw_body_needs_the_raw_payload_permission(client, bob, admin_user, queue):
    record = make_record(queue, 1, raw_body='{"secret-marker": true}')

    client.force_login(bob)
    hidden = client.get(reverse("record", args=[record.pk])).content.decode()
    client.force_login(admin_user)
    shown = client.get(reverse("record", args=[record.pk])).content.decode()

    assert "secret-marker" not in hidden
    assert "raw-payload permission" in hidden
    assert "secret-marker" in shown


def test_the_record_page_links_an_invocation_saved_after_the_record(client, bob, queue, env):
    record = make_record(queue, 1, request_id=REQUEST_ID)
    invocation = Invocation.objects.create(
        environment=env, function_name="orders", invocation_type="Event", request_id=REQUEST_ID
    )
    client.force_login(bob)

    response = client.get(reverse("record", args=[record.pk]))

    assert response.context["invocation"] == invocation


def test_a_record_of_another_environment_opens_in_that_environment(client, bob, queue):
    other = Environment.objects.create(name="staging")
    foreign_queue = WatchedQueue.objects.create(
        environment=other, url="https://sqs.x/1/q", kind="dlq"
    )
    record = make_record(foreign_queue, 1, environment=other)
    client.force_login(bob)

    response = client.get(reverse("record", args=[record.pk]))

    assert response.status_code == 200
    assert "You are looking at environment <strong>staging</strong>" in response.text


@pytest.fixture
def cloudwatch(env):
    with mock_aws():
        aws.reset_clients()
        yield aws.client(env, "logs")
    aws.reset_clients()


def put_attempt(logs, stream, request_id, output, at_ms):
    lines = [
        f"START RequestId: {request_id} Version: $LATEST",
        *output,
        f"END RequestId: {request_id}",
        f"REPORT RequestId: {request_id}\tDuration: 1.00 ms\tBilled Duration: 1 ms",
    ]
    logs.put_log_events(
        logGroupName="/aws/lambda/orders",
        logStreamName=stream,
        logEvents=[{"timestamp": at_ms + i, "message": line} for i, line in enumerate(lines)],
    )


def test_the_logs_of_the_request_show_every_attempt_with_the_functions_output(
    client, bob, queue, cloudwatch
):
    record = make_record(queue, 1, request_id=REQUEST_ID, record_timestamp=timezone.now())
    cloudwatch.create_log_group(logGroupName="/aws/lambda/orders")
    now = int(time.time() * 1000) - 60_000
    for stream in ("2026/11/26/[$LATEST]aaa", "2026/11/26/[$LATEST]bbb"):
        cloudwatch.create_log_stream(logGroupName="/aws/lambda/orders", logStreamName=stream)
    put_attempt(cloudwatch, "2026/11/26/[$LATEST]aaa", "someone-else", ["not ours"], now - 5000)
    put_attempt(cloudwatch, "2026/11/26/[$LATEST]aaa", REQUEST_ID, ["first try output"], now)
    put_attempt(
        cloudwatch, "2026/11/26/[$LATEST]bbb", REQUEST_ID, ["second try output"], now + 1000
    )
    put_attempt(cloudwatch, "2026/11/26/[$LATEST]aaa", REQUEST_ID, ["third try output"], now + 2000)
    client.force_login(bob)

    response = client.get(reverse("record-logs", args=[record.pk]))

    body = response.content.decode()
    assert response.status_code == 200
    assert len(response.context["attempts"]) == 3
    assert (
        body.index("first try output")
        < body.index("second try output")
        < body.index("third try output")
    )
    assert "not ours" not in body


def test_the_logs_fragment_shows_an_error_instead_of_failing(client, bob, queue, cloudwatch):
    record = make_record(queue, 1, request_id=REQUEST_ID)
    client.force_login(bob)

    response = client.get(reverse("record-logs", args=[record.pk]))

    assert response.status_code == 200
    assert "The log group /aws/lambda/orders does not exist." in response.content.decode()
