"""The invocation pages: the live fragment, the list (filters, keyset pages, constant queries),
re-runs, the full-log panel, and escaping of everything a function sends back."""

import time

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from moto import mock_aws

from invocations import aws
from invocations.failures import grouping
from invocations.models import AuditEvent, Environment, Function, Invocation


@pytest.fixture
def env(db):
    return Environment.objects.default()


def make(env, user=None, **fields):
    fields.setdefault("function_name", "hello")
    return Invocation.objects.create(environment=env, requested_by=user, **fields)


def test_the_status_fragment_polls_while_running_and_stops_when_done(client, alice, env):
    client.force_login(alice)
    invocation = make(env, alice, status="running")
    url = reverse("invocation-status", args=[invocation.pk])

    running = client.get(url, headers={"HX-Request": "true"})
    Invocation.objects.filter(pk=invocation.pk).update(status="succeeded", status_code=200)
    done = client.get(url, headers={"HX-Request": "true"})

    assert running.status_code == 200
    assert 'hx-trigger="load delay:20ms"' in running.text
    assert f'hx-get="{url}?step=1"' in running.text
    assert done.status_code == 286  # htmx: stop polling
    assert "hx-trigger" not in done.text
    assert "HTTP 200" in done.text


def test_a_running_invocation_is_asked_about_at_once_then_less_often_up_to_once_a_second(
    client, alice, env
):
    client.force_login(alice)
    invocation = make(env, alice, status="queued")
    url = reverse("invocation-status", args=[invocation.pk])

    page = client.get(reverse("invocation", args=[invocation.pk]))
    later = client.get(f"{url}?step=4", headers={"HX-Request": "true"})
    settled = client.get(f"{url}?step=40", headers={"HX-Request": "true"})
    nonsense = client.get(f"{url}?step=x", headers={"HX-Request": "true"})

    assert 'hx-trigger="load delay:20ms"' in page.text
    assert 'hx-trigger="load delay:120ms"' in later.text and "?step=5" in later.text
    assert 'hx-trigger="load delay:1000ms"' in settled.text
    assert 'hx-trigger="load delay:20ms"' in nonsense.text


def test_a_throttled_invocation_says_which_attempt_comes_next_and_when(client, alice, env):
    from datetime import timedelta

    from django.utils import timezone

    client.force_login(alice)
    invocation = make(
        env,
        alice,
        status="retrying",
        attempts=1,
        next_attempt_at=timezone.now() + timedelta(seconds=3.1),
    )

    page = client.get(reverse("invocation", args=[invocation.pk]))

    assert "throttled, attempt 2 of 6, next in 3." in page.text


def test_markup_from_a_function_is_shown_as_text(client, alice, env):
    client.force_login(alice)
    invocation = make(
        env,
        alice,
        status="succeeded",
        response_payload='{"message": "<script>alert(1)</script>"}',
        log_tail="START RequestId: r\n<img src=x onerror=alert(2)>\nEND RequestId: r\n",
        request_id="r",
    )

    page = client.get(reverse("invocation", args=[invocation.pk]))

    assert "<script>alert(1)" not in page.text
    assert "<img src=x" not in page.text
    assert "&lt;img src=x onerror=alert(2)&gt;" in page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text


def test_the_list_filters_and_pages_by_id(client, alice, bob, env):
    client.force_login(alice)
    for _ in range(55):
        make(env, alice, status="succeeded")
    make(env, bob, function_name="orders", status="function_error", request_id="abc-123")

    first = client.get(reverse("invocations"))
    older = client.get(reverse("invocations"), {"before": first.context["next_before"]})
    filtered = client.get(reverse("invocations"), {"status": "function_error", "who": "bob"})
    searched = client.get(reverse("invocations"), {"q": "abc"})

    assert len(first.context["invocations"]) == 50
    assert first.context["invocations"][0].function_name == "orders"
    assert len(older.context["invocations"]) == 6
    assert older.context["next_before"] is None
    assert [i.function_name for i in filtered.context["invocations"]] == ["orders"]
    assert [i.request_id for i in searched.context["invocations"]] == ["abc-123"]


def test_the_list_makes_as_many_queries_for_fifty_rows_as_for_two(client, alice, bob, env):
    client.force_login(alice)
    make(env, alice)
    make(env, bob)
    client.get(reverse("invocations"))  # warm the session and the environment

    with CaptureQueriesContext(connection) as few:
        client.get(reverse("invocations"))
    for index in range(50):
        make(env, alice if index % 2 else bob, function_name=f"fn-{index}")
    with CaptureQueriesContext(connection) as many:
        client.get(reverse("invocations"))

    assert len(many) == len(few)


def test_the_htmx_filter_answers_only_the_table(client, alice, env):
    client.force_login(alice)
    make(env, alice)

    response = client.get(
        reverse("invocations"),
        {"function": "hello"},
        headers={"HX-Request": "true", "HX-Target": "invocation-table"},
    )

    assert response.text.lstrip().startswith('<div id="invocation-table">')
    assert "<html" not in response.text


def test_the_functions_search_answers_only_the_table_as_you_type(client, bob, env):
    Function.objects.create(environment=env, name="orders")
    Function.objects.create(environment=env, name="hello")
    client.force_login(bob)

    response = client.get(
        reverse("functions"),
        {"q": "ord"},
        headers={"HX-Request": "true", "HX-Target": "function-table"},
    )

    assert "<html" not in response.text
    assert "orders" in response.text
    assert "hello" not in response.text


def test_re_run_makes_a_new_invocation_linked_to_the_old_one(
    client, alice, env, django_capture_on_commit_callbacks
):
    client.force_login(alice)
    old = make(env, alice, status="succeeded", payload='{"name": "Ada"}', qualifier="1")

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = client.post(reverse("invocation-rerun", args=[old.pk]))

    new = Invocation.objects.exclude(pk=old.pk).get()
    assert response.url == reverse("invocation", args=[new.pk])
    assert (new.rerun_of, new.payload, new.qualifier, new.status) == (
        old,
        old.payload,
        "1",
        "queued",
    )
    assert len(callbacks) == 1
    assert AuditEvent.objects.get(action="invocation.rerun").target_id == str(new.pk)


def test_edit_and_re_run_prefills_the_form(client, alice, env):
    Function.objects.create(environment=env, name="hello")
    client.force_login(alice)
    old = make(env, alice, payload='{"name": "Grace"}', invocation_type="Event")

    page = client.get(reverse("function", args=["hello"]), {"from": old.pk})

    form = page.context["form"]
    assert form.initial["payload"] == '{"name": "Grace"}'
    assert form.initial["invocation_type"] == "Event"
    assert form.initial["rerun_of"] == old.pk


def test_the_full_log_panel_reads_the_request_lines_from_cloudwatch(client, bob, env):
    client.force_login(bob)
    invocation = make(env, status="succeeded", request_id="req-42")
    now = int(time.time() * 1000)

    with mock_aws():
        aws.reset_clients()
        logs = aws.client(env, "logs")
        logs.create_log_group(logGroupName="/aws/lambda/hello")
        logs.create_log_stream(logGroupName="/aws/lambda/hello", logStreamName="s1")
        logs.put_log_events(
            logGroupName="/aws/lambda/hello",
            logStreamName="s1",
            logEvents=[
                {"timestamp": now, "message": "START RequestId: req-42 Version: $LATEST"},
                {"timestamp": now + 1, "message": "req-42 <b>hello</b>"},
                {"timestamp": now + 2, "message": "START RequestId: req-other Version: $LATEST"},
            ],
        )
        response = client.get(reverse("invocation-log", args=[invocation.pk]))
    aws.reset_clients()

    assert response.status_code == 200
    assert "START RequestId: req-42" in response.text
    assert "&lt;b&gt;hello&lt;/b&gt;" in response.text
    assert "req-other" not in response.text


def test_the_full_log_panel_shows_an_aws_error_instead_of_failing(client, bob, env):
    client.force_login(bob)
    invocation = make(env, status="succeeded", request_id="req-42")

    with mock_aws():
        aws.reset_clients()
        response = client.get(reverse("invocation-log", args=[invocation.pk]))
    aws.reset_clients()

    assert response.status_code == 200
    assert "The log group /aws/lambda/hello does not exist" in response.text


def test_the_function_page_draws_the_last_fourteen_days(client, bob, env):
    Function.objects.create(environment=env, name="hello", memory_size=128, timeout=3)
    make(env, status="succeeded")
    grouping.group_invocation(make(env, status="function_error"))  # as the invoke task does
    client.force_login(bob)

    page = client.get(reverse("function", args=["hello"]))

    chart = page.context["chart"]
    assert len(chart["bars"]) == 14
    assert (chart["bars"][-1]["total"], chart["bars"][-1]["failed"]) == (2, 1)
    assert "<svg" in page.text
    assert "You can look, not invoke" in page.text


def test_the_full_log_shows_every_line_of_each_attempt_of_an_event_invocation(client, bob, env):
    """Lambda's own START/END/REPORT lines carry the request ID; the function's prints and its
    traceback do not, and are what a person opens the full log for."""
    client.force_login(bob)
    invocation = make(env, status="event_failed", invocation_type="Event", request_id="req-7")
    now = int(time.time() * 1000)
    group = "/aws/lambda/hello"

    with mock_aws():
        aws.reset_clients()
        logs = aws.client(env, "logs")
        logs.create_log_group(logGroupName=group)
        for attempt in range(3):
            stream = f"2026/11/30/[$LATEST]attempt{attempt}"
            at = now + attempt * 1000
            logs.create_log_stream(logGroupName=group, logStreamName=stream)
            logs.put_log_events(
                logGroupName=group,
                logStreamName=stream,
                logEvents=[
                    {"timestamp": at, "message": "START RequestId: req-7 Version: $LATEST"},
                    {"timestamp": at + 1, "message": f"processing order -1, try {attempt + 1}"},
                    {"timestamp": at + 2, "message": "Traceback (most recent call last):"},
                    {"timestamp": at + 3, "message": "END RequestId: req-7"},
                    {"timestamp": at + 4, "message": "REPORT RequestId: req-7\tDuration: 2 ms"},
                    {"timestamp": at + 5, "message": "START RequestId: req-8 Version: $LATEST"},
                    {"timestamp": at + 6, "message": "someone else's line"},
                ],
            )
        response = client.get(reverse("invocation-log", args=[invocation.pk]))
    aws.reset_clients()

    assert "3 attempts" in response.text
    for attempt in range(3):
        assert f"processing order -1, try {attempt + 1}" in response.text
    assert response.text.count("Traceback (most recent call last):") == 3
    assert "someone else" not in response.text and "req-8" not in response.text


def test_a_replay_batch_in_progress_is_asked_about_at_once_then_less_often(client, alice, env):
    from invocations.models import ReplayBatch

    client.force_login(alice)
    batch = ReplayBatch.objects.create(environment=env, function_name="hello", status="running")
    url = reverse("replay-batch", args=[batch.pk])

    page = client.get(url)
    later = client.get(f"{url}?step=8", headers={"HX-Request": "true"})
    ReplayBatch.objects.filter(pk=batch.pk).update(status="done")
    done = client.get(f"{url}?step=9", headers={"HX-Request": "true"})

    assert 'hx-trigger="load delay:20ms"' in page.text and "?step=1" in page.text
    assert 'hx-trigger="load delay:1000ms"' in later.text
    assert "hx-trigger" not in done.text
