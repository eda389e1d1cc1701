"""The query bar, time range and page size on the triage, records and invocations lists."""

from datetime import timedelta

import pytest
from django.utils import timezone

from invocations.failures import grouping
from invocations.models import ExecutionRecord, FailureGroup, Invocation
from tests import factories

pytestmark = pytest.mark.django_db


def _failures():
    orders = factories.failure_record(function="orders", error_type="ValueError", version="7")
    billing = factories.failure_record(
        function="billing", error_type="KeyError", message="'customer' missing", version="3"
    )
    grouping.group_records([orders, billing])
    return orders, billing


def test_triage_narrows_by_query_fields_and_free_text(client, bob):
    _failures()
    client.force_login(bob)

    by_error = client.get("/", {"q": "error:KeyError"}).content.decode()
    by_version = client.get("/", {"q": "version:7"}).content.decode()
    by_text = client.get("/", {"q": "customer"}).content.decode()

    assert 'id="group-' in by_error
    assert ">billing<" in by_error and ">orders<" not in by_error
    assert ">orders<" in by_version and ">billing<" not in by_version
    assert ">billing<" in by_text and ">orders<" not in by_text


def test_is_in_the_query_overrides_the_status_dropdown(client, alice):
    _failures()
    FailureGroup.objects.filter(function_name="orders").update(status="resolved")
    client.force_login(alice)

    default = client.get("/").content.decode()
    resolved = client.get("/", {"q": "is:resolved"}).content.decode()

    assert ">orders<" not in default
    assert ">orders<" in resolved and ">billing<" not in resolved


def test_assigned_me_shows_my_groups(client, alice):
    _failures()
    FailureGroup.objects.filter(function_name="billing").update(assignee=alice)
    client.force_login(alice)

    body = client.get("/", {"q": "assigned:me"}).content.decode()

    assert ">billing<" in body and ">orders<" not in body


@pytest.mark.parametrize("url", ["/", "/records/", "/invocations/"])
def test_unknown_fields_and_bad_values_are_named_never_a_500(client, bob, url):
    _failures()
    client.force_login(bob)

    response = client.get(
        url, {"q": 'colour:red is:sleepy "unterminated', "range": "forever", "per_page": "7"}
    )

    assert response.status_code == 200
    body = response.content.decode()
    assert "Not understood, ignored" in body
    assert "colour: is not a field here" in body
    assert "range &#x27;forever&#x27; is not one of" in body
    assert "page size &#x27;7&#x27; is not one of" in body


def test_the_time_range_drives_the_triage_counts(client, bob):
    orders, _ = _failures()
    old = factories.failure_record(
        function="orders", received_at=timezone.now() - timedelta(days=3)
    )
    grouping.group_records([old])
    client.force_login(bob)

    day = client.get("/", {"range": "24h", "q": "function:orders"}).content.decode()
    week = client.get("/", {"range": "7d", "q": "function:orders"}).content.decode()

    assert "in the chosen range" in day
    assert 'aria-label="1 in the chosen range"' in day
    assert 'aria-label="2 in the chosen range"' in week


def test_the_time_range_narrows_records(client, bob):
    recent, _ = _failures()
    factories.failure_record(function="orders", received_at=timezone.now() - timedelta(days=3))
    client.force_login(bob)

    body = client.get("/records/", {"range": "24h", "q": "function:orders"}).content.decode()

    assert body.count('name="records" value=') == 1
    assert f'value="{recent.pk}"' in body


def test_records_search_by_kind_and_queue(client, bob):
    factories.failure_record(function="orders")
    dead = factories.failure_record(function="orders", kind=ExecutionRecord.Kind.DLQ)
    client.force_login(bob)

    body = client.get("/records/", {"q": "kind:dlq queue:orders-dlq"}).content.decode()

    assert body.count('name="records" value=') == 1
    assert f'value="{dead.pk}"' in body


def test_invocations_search_by_status_and_request_id(client, bob):
    env = factories.queue().environment
    failed = Invocation.objects.create(
        environment=env, function_name="orders", status="function_error", request_id="abc-1"
    )
    Invocation.objects.create(
        environment=env, function_name="orders", status="succeeded", request_id="def-2"
    )
    client.force_login(bob)

    by_status = client.get("/invocations/", {"q": "is:function_error"}).content.decode()
    by_request = client.get("/invocations/", {"q": "def-2"}).content.decode()

    assert f'href="/invocations/{failed.pk}/"' in by_status and "def-2" not in by_status
    assert "def-2" in by_request and "abc-1" not in by_request


def test_page_size_and_bounded_total(client, bob, settings):
    watched = factories.queue()
    for _ in range(30):
        factories.failure_record(watched=watched)
    client.force_login(bob)

    body = client.get("/records/", {"per_page": "25"}).content.decode()

    assert body.count('name="records" value=') == 25
    assert "Select all 30 matching" in body


def test_the_suggestions_offer_fields_and_known_values(client, bob):
    _failures()
    client.force_login(bob)

    body = client.get("/suggestions/triage/").content.decode()

    for entry in ("function:", "function:orders", "error:KeyError", "is:regressed", "assigned:me"):
        assert f'value="{entry}"' in body
    assert client.get("/suggestions/nothing/").status_code == 404


def test_a_total_beyond_the_limit_reads_as_the_limit_plus(client, bob, monkeypatch):
    monkeypatch.setattr("invocations.lists.bounded.COUNT_LIMIT", 5)
    env = factories.queue().environment
    for _ in range(7):
        Invocation.objects.create(environment=env, function_name="orders")
    client.force_login(bob)

    body = client.get("/invocations/").content.decode()

    assert "5+ invocations" in body
