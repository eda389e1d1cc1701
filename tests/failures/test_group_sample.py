"""A group of synchronous failures shows its latest invocation's error, payload (redacted for
people without the raw-payload permission) and log tail; a plain error shows its type."""

import pytest
from django.urls import reverse

from invocations.failures import grouping
from invocations.models import Environment, FailureGroup, Invocation
from tests import factories

TAIL = "\n".join(
    [
        "START RequestId: 5d1c Version: $LATEST",
        "[ERROR] RuntimeError: downstream refused the token",
        "END RequestId: 5d1c",
        "REPORT RequestId: 5d1c\tDuration: 3.10 ms\tBilled Duration: 4 ms",
    ]
)


@pytest.fixture
def env(db):
    return Environment.objects.default()


def failed_sync(env, payload, error_text):
    invocation = Invocation.objects.create(
        environment=env,
        function_name="broken",
        payload=payload,
        status="function_error",
        status_code=200,
        function_error="Unhandled",
        error_code="RuntimeError",
        error_text=error_text,
        log_tail=TAIL,
    )
    grouping.group_invocation(invocation)
    return invocation


def test_an_invocation_only_group_shows_the_latest_error_payload_and_log_tail(client, bob, env):
    failed_sync(env, '{"token": "old-secret", "order": 6}', "downstream refused the token")
    failed_sync(env, '{"token": "s3cr3t-value", "order": 7}', "downstream refused the token")
    group = FailureGroup.objects.get()
    client.force_login(bob)

    page = client.get(reverse("group", args=[group.pk])).text

    assert "Only invocations so far" not in page
    assert "downstream refused the token" in page
    assert "[ERROR] RuntimeError: downstream refused the token" in page  # the log tail
    assert "&quot;order&quot;: 7" in page
    assert "s3cr3t-value" not in page and "[redacted]" in page  # bob may not see raw payloads


def test_a_plain_error_shows_its_type_not_class_error(client, bob, env):
    grouping.group_records([factories.failure_record(error_type="ValueError")])
    group = FailureGroup.objects.get()
    client.force_login(bob)

    page = client.get(reverse("group", args=[group.pk])).text

    assert ">Class<" not in page
    assert 'Error type</span><span class="value mono">ValueError' in page
