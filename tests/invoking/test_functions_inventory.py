"""The function inventory, read from the sandbox, and what the functions page makes of it."""

import pytest
from django.urls import reverse

from invocations import aws
from invocations.invoking import inventory
from invocations.models import Function, InventorySync


@pytest.mark.sandbox
def test_it_reads_configuration_concurrency_and_async_destinations(sandbox_env):
    errors = inventory.sync(sandbox_env)

    functions = {f.name: f for f in Function.objects.filter(environment=sandbox_env)}
    assert errors == []
    assert {"hello", "orders", "throttled", "slow", "chatty"} <= set(functions)
    assert functions["slow"].timeout == 2
    assert functions["chatty"].memory_size == 256
    assert functions["throttled"].reserved_concurrency == 0
    assert functions["hello"].reserved_concurrency is None
    assert functions["orders"].on_success_destination.endswith(":orders-on-success")
    assert functions["orders"].on_failure_destination.endswith(":orders-on-failure")
    assert functions["orders"].dlq_target.endswith(":orders-dlq")
    assert functions["flaky"].async_max_retries == 1
    assert functions["hello"].has_async_outcome is False
    assert InventorySync.objects.get(environment=sandbox_env).succeeded_at is not None


@pytest.mark.sandbox
def test_a_function_gone_from_aws_is_marked_absent(sandbox_env):
    Function.objects.create(environment=sandbox_env, name="deleted-yesterday")

    inventory.sync(sandbox_env)

    assert Function.objects.get(name="deleted-yesterday").present is False


def test_an_aws_error_is_shown_and_the_last_good_inventory_stays(client, bob, db, settings):
    from invocations.models import Environment

    settings.AWS_CONNECT_TIMEOUT = 0.5
    aws.reset_clients()
    env = Environment.objects.default()
    env.endpoint_url = "http://127.0.0.1:9"
    env.save()
    Function.objects.create(environment=env, name="hello", runtime="python3.11")

    errors = inventory.sync(env)
    client.force_login(bob)
    page = client.get(reverse("functions"))

    aws.reset_clients()
    assert errors and "EndpointConnectionError" in errors[0]
    assert Function.objects.get(name="hello").present is True
    assert "The last refresh had errors" in page.text
    assert "EndpointConnectionError" in page.text
    assert "hello" in page.text


def test_refresh_enqueues_the_sync_and_is_audited(
    client, alice, db, django_capture_on_commit_callbacks
):
    from invocations.models import AuditEvent

    client.force_login(alice)

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = client.post(reverse("functions-refresh"))

    assert response.status_code == 302
    assert len(callbacks) == 1
    assert AuditEvent.objects.filter(action="functions.refresh", actor=alice).count() == 1


def test_a_function_named_refresh_has_its_page(client, alice, db):
    from invocations.models import Environment

    Function.objects.create(environment=Environment.objects.default(), name="refresh")
    client.force_login(alice)

    page = client.get(reverse("function", kwargs={"name": "refresh"}))

    assert page.status_code == 200
    assert page.context["function"].name == "refresh"
