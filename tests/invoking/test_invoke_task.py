"""The invoke task's body, called directly: against the sandbox for what Lambda answers, and
without it for the guards."""

import json
import time

import pytest

from invocations.invoking import lifecycle
from invocations.models import Environment, Invocation


def queued(env, name, payload="{}", kind="RequestResponse"):
    return Invocation.objects.create(
        environment=env, function_name=name, payload=payload, invocation_type=kind
    )


def run_to_the_end(pk, deadline_s=30):
    """What the Celery task does: run attempts until no retry is due (sleeping here, where the
    task would schedule the next attempt with a countdown)."""
    attempt, deadline = 1, time.monotonic() + deadline_s
    while (retry := lifecycle.run(pk, attempt)) is not None:
        assert time.monotonic() < deadline
        time.sleep(retry.delay)
        attempt = retry.attempt
    return Invocation.objects.get(pk=pk)


@pytest.mark.sandbox
def test_it_invokes_hello_and_keeps_the_answer_and_the_report(sandbox_env):
    invocation = queued(sandbox_env, "hello", '{"name": "Ada"}')

    done = run_to_the_end(invocation.pk)

    assert done.status == Invocation.Status.SUCCEEDED
    assert done.status_code == 200
    assert json.loads(done.response_payload)["message"] == "Hello, Ada!"
    assert "saying hello to Ada" in done.log_tail
    assert done.request_id
    assert done.request_id in done.log_tail
    assert done.duration_ms is not None
    assert done.billed_duration_ms is not None
    assert done.memory_size_mb == 128
    assert done.attempts == 1
    assert done.started_at and done.finished_at


@pytest.mark.sandbox
def test_it_records_an_unhandled_error_as_a_function_error(sandbox_env):
    invocation = queued(sandbox_env, "orders", '{"order": "nope"}')

    done = run_to_the_end(invocation.pk)

    assert done.status == Invocation.Status.FUNCTION_ERROR
    assert done.status_code == 200
    assert done.function_error == "Unhandled"
    assert done.error_code == "ValueError"
    assert "positive integer" in done.error_text
    assert json.loads(done.response_payload)["errorType"] == "ValueError"


@pytest.mark.sandbox
def test_it_records_a_timeout(sandbox_env):
    invocation = queued(sandbox_env, "slow", '{"seconds": 5}')

    done = run_to_the_end(invocation.pk)

    assert done.status == Invocation.Status.FUNCTION_ERROR
    assert "Task timed out after 2" in done.log_tail + done.response_payload


@pytest.mark.sandbox
def test_a_function_that_does_not_exist_fails_with_aws_code_and_message(sandbox_env):
    invocation = queued(sandbox_env, "no-such-function")

    done = run_to_the_end(invocation.pk)

    assert done.status == Invocation.Status.FAILED
    assert done.error_code == "ResourceNotFoundException"
    assert done.error_text


@pytest.mark.sandbox
def test_a_throttled_function_is_retried_with_backoff_then_marked_throttled(sandbox_env, settings):
    settings.THROTTLE_RETRY_ATTEMPTS = 3
    invocation = queued(sandbox_env, "throttled")

    first = lifecycle.run(invocation.pk, 1)
    between = Invocation.objects.get(pk=invocation.pk)
    done = run_to_the_end_from(invocation.pk, first)

    assert first is not None and first.attempt == 2
    assert 0 <= first.delay <= settings.THROTTLE_RETRY_CAP
    assert between.status == Invocation.Status.THROTTLED_RETRYING
    assert between.next_attempt_at is not None
    assert between.error_code == "TooManyRequestsException"
    assert done.status == Invocation.Status.THROTTLED
    assert done.attempts == 3
    assert "throttled on all 3 attempts" in done.error_text


def run_to_the_end_from(pk, retry):
    while retry is not None:
        time.sleep(retry.delay)
        retry = lifecycle.run(pk, retry.attempt)
    return Invocation.objects.get(pk=pk)


def test_a_redelivered_task_that_finds_its_attempt_running_never_invokes_again(db):
    env = Environment.objects.default()
    env.endpoint_url = "http://127.0.0.1:9"  # nothing listens: an invoke would fail differently
    env.save()
    invocation = queued(env, "hello")
    Invocation.objects.filter(pk=invocation.pk).update(status="running", attempts=1)

    retry = lifecycle.run(invocation.pk, 1)

    done = Invocation.objects.get(pk=invocation.pk)
    assert retry is None
    assert done.status == Invocation.Status.FAILED
    assert done.error_text == "worker lost during invoke; it may have run, see the logs"
    assert done.attempts == 1


def test_a_stale_duplicate_of_a_finished_invocation_changes_nothing(db):
    invocation = queued(Environment.objects.default(), "hello")
    Invocation.objects.filter(pk=invocation.pk).update(status="succeeded", attempts=1)

    lifecycle.run(invocation.pk, 1)

    assert Invocation.objects.get(pk=invocation.pk).status == Invocation.Status.SUCCEEDED


def test_an_unreachable_endpoint_fails_with_a_clear_reason(db, settings):
    settings.AWS_CONNECT_TIMEOUT = 0.5
    from invocations import aws

    aws.reset_clients()
    env = Environment.objects.default()
    env.endpoint_url = "http://127.0.0.1:9"
    env.save()
    invocation = queued(env, "hello")

    done = run_to_the_end(invocation.pk)

    aws.reset_clients()
    assert done.status == Invocation.Status.FAILED
    assert done.error_code == "EndpointConnectionError"
    assert done.error_text.startswith("Could not reach http://127.0.0.1:9")
    assert "Nothing was invoked" in done.error_text


def test_backoff_uses_full_jitter_under_the_cap(settings):
    settings.THROTTLE_RETRY_BASE, settings.THROTTLE_RETRY_CAP = 1.0, 30.0

    delays = [lifecycle.backoff(6) for _ in range(200)]

    assert all(0 <= delay <= 30.0 for delay in delays)
    assert max(delays) > 15  # 2^5 = 32 is capped at 30, and the spread reaches high
    assert min(delays) < 5  # full jitter: it also reaches low
