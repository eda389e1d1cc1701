"""A failure group counts failed events, not records: `orders` has an OnFailure destination and a
dead-letter queue, so each failed event arrives twice, and 13 failed events are 13 occurrences
on every page that counts them."""

import json
import re
import uuid

import pytest
from django.urls import reverse
from django.utils import timezone

from invocations.ingest import polling
from invocations.models import Environment, FailureGroup, Function, Invocation, WatchedQueue
from tests.messages import destination_record

EVENTS = 13


def _now():
    return timezone.now().isoformat().replace("+00:00", "Z")


def dead_letter(request_id, order):
    return {
        "MessageId": f"dlq-{request_id}",
        "Body": json.dumps({"order": order}),
        "MessageAttributes": {
            "RequestID": {"DataType": "String", "StringValue": request_id},
            "ErrorCode": {"DataType": "Number", "StringValue": "200"},
            "ErrorMessage": {
                "DataType": "String",
                "StringValue": f"order must be a positive integer, got {order}",
            },
        },
    }


@pytest.fixture
def thirteen_failed_events(db):
    """13 failed Event invocations of orders (and 2 that succeeded), each failure reported by
    its OnFailure record and its dead letter, the two arriving in either order and batch."""
    env = Environment.objects.default()
    function = Function.objects.create(environment=env, name="orders")
    destination = WatchedQueue.objects.create(
        environment=env, url="http://sqs.local/1/orders-on-failure", kind="destination"
    )
    dlq = WatchedQueue.objects.create(
        environment=env, url="http://sqs.local/1/orders-dlq", kind="dlq", function_name="orders"
    )
    for _ in range(2):
        Invocation.objects.create(
            environment=env, function=function, function_name="orders", status="succeeded"
        )
    records, letters = [], []
    for order in range(-EVENTS, 0):
        request_id = str(uuid.uuid4())
        Invocation.objects.create(
            environment=env,
            function=function,
            function_name="orders",
            invocation_type="Event",
            status="accepted",
            status_code=202,
            request_id=request_id,
        )
        records.append(
            {
                "MessageId": f"d-{request_id}",
                "Body": destination_record(request_id, order, timestamp=_now()),
            }
        )
        letters.append(dead_letter(request_id, order))
    # Some dead letters first (they start a group of their own, then move), some after.
    polling.store_batch(dlq, letters[:5])
    polling.store_batch(destination, records[:8])
    polling.store_batch(dlq, letters[5:])
    polling.store_batch(destination, records[8:])
    return env


def test_thirteen_failed_events_are_thirteen_occurrences_and_thirteen_unreplayed(
    client, alice, thirteen_failed_events
):
    group = FailureGroup.objects.get()
    client.force_login(alice)

    group_page = client.get(reverse("group", args=[group.pk])).text
    triage_page = client.get(reverse("triage")).text
    plan = client.get(reverse("replay-plan") + f"?group={group.pk}").text

    assert (group.count, group.backlog_count) == (EVENTS, EVENTS)
    assert "13 failed events" in group_page
    assert "13 unreplayed" in group_page
    rows = re.findall(r'<td class="event-records"[^>]*>(.*?)</td>', group_page, re.S)
    assert len(rows) == EVENTS  # one row per event...
    assert all("failure #" in row and "dead letter #" in row for row in rows)  # ...both records
    row = re.search(rf'<tr id="group-{group.pk}".*?</tr>', triage_page, re.S).group(0)
    assert re.findall(r'<td class="num[^"]*"[^>]*>(\d+)', row) == ["13", "13"]  # count, unreplayed
    assert "Replay 13 records" in plan
    assert "13 records" in plan  # the dead letters, not sent twice and not "skipped"


def test_the_function_chart_counts_failed_events(client, bob, thirteen_failed_events):
    client.force_login(bob)

    page = client.get(reverse("function", args=["orders"]))

    today = page.context["chart"]["bars"][-1]
    assert (today["total"], today["failed"]) == (15, EVENTS)
    assert "15 invocations, 13 failures" in page.text


def test_a_replayed_event_reads_replayed_once_through_either_record(
    client, alice, thirteen_failed_events
):
    from invocations.failures import events, grouping
    from invocations.models import ExecutionRecord

    group = FailureGroup.objects.get()
    letter = ExecutionRecord.objects.filter(kind="dlq").order_by("id").first()
    replayed = Invocation.objects.create(
        environment=group.environment,
        function_name="orders",
        replay_of=letter,
        replay_of_event=letter.event,
        status="succeeded",
    )
    events.record_replay(replayed)
    grouping.refresh_backlog(group)
    client.force_login(alice)

    page = client.get(reverse("group", args=[group.pk])).text

    group.refresh_from_db()
    assert group.backlog_count == EVENTS - 1
    assert page.count('<td data-label="Replayed">yes</td>') == 1


def test_the_late_dead_letter_of_a_counted_event_does_not_reopen_a_resolved_group(db):
    from invocations.failures import grouping
    from tests import factories

    record = factories.failure_record()
    grouping.group_records([record])
    FailureGroup.objects.update(status="resolved")
    letter = factories.failure_record(kind="dlq", error_type="", request_id=record.request_id)

    grouping.group_records([letter])

    group = FailureGroup.objects.get()
    assert (group.status, group.regressed, group.count) == ("resolved", False, 1)


def test_the_triage_sparklines_count_failed_events_at_the_time_each_happened(client, bob):
    """4 events of the last hour, each reported by its OnFailure record and its dead letter; 3
    of 3 days ago; 2 of 20 days ago. The sparklines read 4 in 24 hours and 7 in 14 days, never
    a record twice and never one outside its window."""
    from datetime import timedelta

    from invocations.failures import charts

    env = Environment.objects.default()
    destination = WatchedQueue.objects.create(
        environment=env, url="http://sqs.local/1/orders-on-failure", kind="destination"
    )
    dlq = WatchedQueue.objects.create(
        environment=env, url="http://sqs.local/1/orders-dlq", kind="dlq", function_name="orders"
    )
    now = timezone.now()
    records, letters = [], []
    for order, days_ago in enumerate([0] * 4 + [3] * 3 + [20] * 2, start=-100):
        request_id = str(uuid.uuid4())
        when = (now - timedelta(days=days_ago)).isoformat().replace("+00:00", "Z")
        body = destination_record(request_id, order, timestamp=when)
        records.append({"MessageId": f"d-{request_id}", "Body": body})
        if days_ago == 0:
            letters.append(dead_letter(request_id, order))
    polling.store_batch(destination, records)
    polling.store_batch(dlq, letters)
    group = FailureGroup.objects.get()
    client.force_login(bob)

    page = client.get(reverse("triage")).text
    lines = charts.for_groups([group.pk])[group.pk]

    assert group.count == 9
    row = re.search(rf'<tr id="group-{group.pk}".*?</tr>', page, re.S).group(0)
    assert 'aria-label="4 in the last 24 hours"' in row
    assert 'aria-label="7 in the last 14 days"' in row
    assert [n for n in lines["hours"] if n] == [4]
    assert [n for n in lines["days"] if n] == [3, 4]  # 3 days ago, then today
