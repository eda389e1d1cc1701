"""The group page puts the evidence first: the latest occurrence in full, stepping through the
others by URL, where they come from, and when."""

from datetime import timedelta

import pytest
from django.utils import timezone

from invocations.failures import diagnosis, grouping
from invocations.models import ExecutionRecord, FailureGroup, Invocation
from tests import factories

pytestmark = pytest.mark.django_db


def _group_of(records) -> FailureGroup:
    grouping.group_records(records)
    return FailureGroup.objects.get()


def _three_failures():
    now = timezone.now()
    old = factories.failure_record(
        message="boom", payload={"n": 1}, received_at=now - timedelta(hours=3), version="6"
    )
    mid = factories.failure_record(
        message="boom", payload={"n": 2}, received_at=now - timedelta(hours=2), version="7"
    )
    new = factories.failure_record(
        message="boom",
        payload={"n": 3},
        received_at=now - timedelta(minutes=5),
        version="7",
        condition="EventAgeExceeded",
    )
    return old, mid, new


def test_it_steps_through_records_and_invocations_in_time_order():
    old, mid, new = _three_failures()
    group = _group_of([old, mid, new])
    invocation = Invocation.objects.create(
        environment=group.environment,
        function_name="orders",
        status="function_error",
        error_code="ValueError",
        error_text="boom",
        finished_at=timezone.now() - timedelta(hours=2, minutes=30),
    )
    grouping.group_invocation(invocation)

    latest = diagnosis.latest(group)
    keys = [latest.key]
    step = diagnosis.navigation(group, latest)["older"]
    while step is not None:
        keys.append(step.key)
        step = diagnosis.navigation(group, step)["older"]

    assert keys == [f"r{new.pk}", f"r{mid.pk}", f"i{invocation.pk}", f"r{old.pk}"]
    assert diagnosis.first(group).key == f"r{old.pk}"
    assert diagnosis.position(group, diagnosis.find(group, f"i{invocation.pk}")) == 3
    assert diagnosis.navigation(group, diagnosis.first(group))["newer"].key == f"i{invocation.pk}"


def test_a_key_of_another_group_or_garbage_finds_nothing():
    old, mid, new = _three_failures()
    group = _group_of([old, mid, new])
    stranger = factories.failure_record(function="billing", error_type="KeyError")
    grouping.group_records([stranger])

    assert diagnosis.find(group, f"r{stranger.pk}") is None
    for junk in ["", "r", "x1", "r-1", "r1e5", "i" + "9" * 30, "r99999999999999999999"]:
        assert diagnosis.find(group, junk) is None


def test_the_breakdown_counts_by_version_condition_and_queue_within_the_range():
    old, mid, new = _three_failures()
    group = _group_of([old, mid, new])

    last_day = diagnosis.breakdown(group, timezone.now() - timedelta(hours=24))
    last_hour = diagnosis.breakdown(group, timezone.now() - timedelta(hours=1))

    assert dict(last_day["version"]) == {"7": 2, "6": 1}
    assert dict(last_day["condition"]) == {"RetriesExhausted": 2, "EventAgeExceeded": 1}
    assert dict(last_day["source"]) == {"orders-on-failure": 3}
    assert dict(last_hour["version"]) == {"7": 1}


def test_the_page_shows_the_latest_occurrence_first_with_its_payload(client, alice):
    old, mid, new = _three_failures()
    group = _group_of([old, mid, new])
    client.force_login(alice)

    body = client.get(f"/groups/{group.pk}/").content.decode()

    assert "Latest occurrence" in body
    assert f"/records/{new.pk}/" in body
    assert "&quot;n&quot;: 3" in body
    assert body.index('id="occurrence"') < body.index('id="actions-title"')
    assert f"?occurrence=r{mid.pk}" in body


def test_the_page_opens_the_occurrence_the_url_names(client, alice):
    old, mid, new = _three_failures()
    group = _group_of([old, mid, new])
    client.force_login(alice)

    body = client.get(f"/groups/{group.pk}/?occurrence=r{old.pk}").content.decode()

    assert "Occurrence 3 of 3" in body
    assert "&quot;n&quot;: 1" in body
    assert "&quot;n&quot;: 3" not in body.split('id="occurrence-title"')[1].split("</section>")[0]


@pytest.mark.parametrize("value", ["r999999", "nonsense", "i-3", "<script>"])
def test_an_unknown_occurrence_is_named_in_a_note_and_the_latest_shown(client, alice, value):
    old, mid, new = _three_failures()
    group = _group_of([old, mid, new])
    client.force_login(alice)

    response = client.get(f"/groups/{group.pk}/", {"occurrence": value, "range": "3y"})

    assert response.status_code == 200
    body = response.content.decode()
    assert "is not one of this group&#x27;s" in body
    assert "<script>" not in body.split("<main")[1]
    assert "Latest occurrence" in body
    assert "Range &#x27;3y&#x27; is not one of" in body


def test_the_histogram_counts_occurrences_per_bucket_over_the_range(client, alice):
    old, mid, new = _three_failures()
    group = _group_of([old, mid, new])
    client.force_login(alice)

    day = client.get(f"/groups/{group.pk}/?range=24h").content.decode()
    hour = client.get(f"/groups/{group.pk}/?range=1h").content.decode()

    assert day.count('class="bucket"') == 24
    assert "3 occurrences in range" in day
    assert hour.count('class="bucket"') == 12
    assert "1 occurrence in range" in hour


def test_a_payload_is_redacted_for_someone_without_the_raw_payload_permission(client, bob):
    record = factories.failure_record(payload={"password": "hunter2", "order": 5})
    group = _group_of([record])
    client.force_login(bob)

    body = client.get(f"/groups/{group.pk}/").content.decode()

    assert "hunter2" not in body
    assert "&quot;order&quot;: 5" in body


def test_an_occurrence_shows_the_dead_letter_of_its_request_beside_it(client, alice):
    failure = factories.failure_record(request_id="3f1c2d4e-0000-4000-8000-000000000001")
    dead = factories.failure_record(
        request_id=failure.request_id, kind=ExecutionRecord.Kind.DLQ, message=failure.error_message
    )
    group = _group_of([failure, dead])
    client.force_login(alice)

    body = client.get(f"/groups/{group.pk}/").content.decode()
    occurrence = body.split('id="occurrence"')[1].split("</section>")[0]

    assert f"/records/{dead.pk}/" in occurrence
    assert diagnosis.latest(group).key == f"r{failure.pk}"
