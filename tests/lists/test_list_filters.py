"""Every list page names a filter it does not understand and ignores only that one: the other
filters still apply, and the rows are never hidden behind "all counts 0"."""

import pytest
from django.urls import reverse

from invocations.failures import grouping
from invocations.models import Environment, Invocation
from tests import factories


@pytest.fixture
def env(db):
    return Environment.objects.default()


def test_records_with_a_garbage_date_still_lists_the_records(client, bob, env):
    stored = [factories.failure_record() for _ in range(3)]
    client.force_login(bob)

    page = client.get(reverse("records") + "?since=garbage")

    assert "Ignored the filter <strong>Received from</strong> = “garbage”" in page.text
    assert "Nothing recorded yet" not in page.text
    for record in stored:
        assert f'href="{reverse("record", args=[record.pk])}"' in page.text


def test_records_keep_the_valid_filters_beside_an_invalid_one(client, bob, env):
    orders = factories.failure_record(function="orders")
    hello = factories.failure_record(function="hello")
    client.force_login(bob)

    page = client.get(reverse("records") + "?function=hello&queue=not-a-number")

    assert "Ignored the filter <strong>Queue</strong>" in page.text
    assert f'href="{reverse("record", args=[hello.pk])}"' in page.text
    assert f'href="{reverse("record", args=[orders.pk])}"' not in page.text


def test_invocations_keep_the_valid_filters_beside_an_invalid_one(client, bob, env):
    hello = Invocation.objects.create(environment=env, function_name="hello", status="succeeded")
    other = Invocation.objects.create(environment=env, function_name="orders", status="succeeded")
    client.force_login(bob)

    page = client.get(reverse("invocations") + "?function=hello&date=yesterdayish")

    assert "Ignored the filter <strong>Date</strong> = “yesterdayish”" in page.text
    assert f'href="{reverse("invocation", args=[hello.pk])}"' in page.text
    assert f'href="{reverse("invocation", args=[other.pk])}"' not in page.text


def test_triage_keeps_the_valid_filters_beside_an_invalid_one(client, bob, env):
    grouping.group_records([factories.failure_record(function="orders")])
    grouping.group_records([factories.failure_record(function="hello", error_type="KeyError")])
    client.force_login(bob)

    page = client.get(reverse("triage") + "?status=sideways&function=hello")

    assert "Ignored the filter <strong>Status</strong> = “sideways”" in page.text
    assert "KeyError" in page.text
    assert "ValueError" not in page.text
