"""What an open list learns when it polls: "N new" for rows it does not show, and in-place
updates for rows it does."""

import pytest

from invocations.failures import grouping
from invocations.lists import live
from invocations.models import ExecutionRecord, FailureGroup
from tests import factories

pytestmark = pytest.mark.django_db


def _group(function="orders", **fields):
    record = factories.failure_record(function=function, **fields)
    grouping.group_records([record])
    return FailureGroup.objects.get(function_name=function)


def test_a_new_group_is_counted_not_shown(client, bob):
    shown = _group("orders")
    client.force_login(bob)
    cursor = live.now_cursor()
    seen = f"{shown.pk}:{live.group_stamp(shown)}"

    quiet = client.get("/triage/changes/", {"cursor": cursor, "seen": seen}).content.decode()
    _group("billing")
    busy = client.get("/triage/changes/", {"cursor": cursor, "seen": seen}).content.decode()

    assert " new<" not in quiet
    assert "1 new" in busy
    assert "billing" not in busy


def test_a_new_group_outside_the_filter_is_not_counted(client, bob):
    client.force_login(bob)
    cursor = live.now_cursor()

    _group("billing")
    body = client.get("/triage/changes/", {"cursor": cursor, "q": "function:orders"}).content

    assert b" new<" not in body


def test_a_changed_row_on_the_page_is_swapped_in_place(client, bob):
    shown = _group("orders")
    client.force_login(bob)
    cursor = live.now_cursor()
    seen = f"{shown.pk}:{live.group_stamp(shown)}"

    grouping.group_records([factories.failure_record(function="orders")])
    body = client.get("/triage/changes/", {"cursor": cursor, "seen": seen}).content.decode()

    assert f'<tr id="group-{shown.pk}" hx-swap-oob="true">' in body
    assert '<td class="num vital" data-label="Count">2</td>' in body
    assert " new<" not in body


def test_new_records_matching_the_filter_are_counted(client, bob):
    newest = factories.failure_record(function="orders")
    client.force_login(bob)

    factories.failure_record(function="orders")
    factories.failure_record(function="billing")
    body = client.get(
        "/records/changes/", {"cursor": newest.pk, "q": "function:orders"}
    ).content.decode()

    assert "1 new" in body


def test_new_occurrences_on_the_group_page(client, bob):
    group = _group("orders")
    client.force_login(bob)
    cursor = live.now_cursor()

    grouping.group_records([factories.failure_record(function="orders") for _ in range(2)])
    body = client.get(f"/groups/{group.pk}/changes/", {"cursor": cursor}).content.decode()

    assert "2 new" in body


@pytest.mark.parametrize("url", ["/triage/changes/", "/records/changes/"])
def test_a_bad_cursor_is_a_400(client, bob, url):
    client.force_login(bob)

    assert client.get(url, {"cursor": "tomorrow'"}).status_code == 400


def test_the_pages_carry_their_poll(client, bob):
    group = _group("orders")
    client.force_login(bob)

    for url, marker in [
        ("/", 'id="triage-live"'),
        ("/records/", 'id="records-live"'),
        (f"/groups/{group.pk}/", 'id="group-live"'),
    ]:
        body = client.get(url).content.decode()
        assert marker in body and "data-live" in body and 'hx-trigger="every 1s"' in body


def test_a_failure_polled_late_is_still_news(client, bob):
    client.force_login(bob)
    cursor = live.now_cursor()

    late = factories.failure_record(function="billing")
    # The failure happened well before the page was drawn; it reached us only now.
    late.record_timestamp = late.received_at.replace(year=late.received_at.year - 1)
    late.save(update_fields=["record_timestamp"])
    grouping.group_records([late])
    body = client.get("/triage/changes/", {"cursor": cursor}).content.decode()

    assert "1 new" in body


def test_two_records_of_one_request_are_one_new_occurrence(client, bob):
    group = _group("orders")
    client.force_login(bob)
    cursor = live.now_cursor()

    on_failure = factories.failure_record(function="orders", request_id="req-1")
    dead_letter = factories.failure_record(function="orders", request_id="req-1", kind="dlq")
    grouping.group_records([on_failure, dead_letter])
    body = client.get(f"/groups/{group.pk}/changes/", {"cursor": cursor}).content.decode()

    in_group = ExecutionRecord.objects.filter(failure_group=group).values_list("pk", flat=True)
    assert {on_failure.pk, dead_letter.pk} <= set(in_group)
    assert "1 new" in body
