"""A failed event is one row, whichever of its reports arrives first: groups count these rows,
their facts come from the most informative report, and replays are attempts of them."""

from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from invocations.failures import diagnosis, events, grouping
from invocations.lists import list_search
from invocations.models import ExecutionRecord, FailedEvent, FailureGroup, Invocation
from invocations.shared import event_facts
from tests import factories

pytestmark = pytest.mark.django_db


def _letter(request_id, **extra):
    return factories.failure_record(
        kind="dlq",
        error_type="",
        version="",
        request_id=request_id,
        message="order must be a positive integer, got -1",
        **extra,
    )


def test_a_dead_letter_first_then_its_onfailure_record_is_one_event_with_the_records_facts():
    letter = _letter("req-1")
    grouping.group_records([letter])
    record = factories.failure_record(request_id="req-1", version="1")
    ExecutionRecord.objects.filter(pk=record.pk).update(
        record_timestamp=timezone.now() - timedelta(minutes=3)
    )
    record.refresh_from_db()

    grouping.group_records([record])

    event = FailedEvent.objects.get()
    assert (event.error_type, event.executed_version, event.condition, event.attempts) == (
        "ValueError",
        "1",
        "RetriesExhausted",
        3,
    )
    assert (event.primary_record_id, event.happened_from) == (record.pk, "lambda")
    assert set(event.records.values_list("pk", flat=True)) == {letter.pk, record.pk}
    group = FailureGroup.objects.get()
    assert (group.count, group.backlog_count, event.group_id) == (1, 1, group.pk)
    latest = diagnosis.latest(group)
    assert latest is not None and latest.key == f"r{record.pk}"
    by_letter = diagnosis.find(group, f"r{letter.pk}")
    assert by_letter is not None and by_letter.event.pk == event.pk


def test_an_onfailure_record_first_is_not_replaced_by_its_later_dead_letter():
    record = factories.failure_record(request_id="req-2", version="1")
    grouping.group_records([record])

    grouping.group_records([_letter("req-2")])

    event = FailedEvent.objects.get()
    assert (event.primary_record_id, event.error_type, event.executed_version) == (
        record.pk,
        "ValueError",
        "1",
    )
    assert FailureGroup.objects.get().count == 1


def test_a_dead_letter_alone_says_when_it_was_received_and_that_it_carries_no_time():
    letter = _letter("req-3")

    grouping.group_records([letter])

    event = FailedEvent.objects.get()
    assert (event.happened_at, event.happened_from) == (letter.received_at, "received")
    assert "carries no time" in event.happened_note
    assert event.condition_label == "dead letter"


def _failed_sync(env, **extra):
    invocation = Invocation.objects.create(
        environment=env,
        function_name="orders",
        status=Invocation.Status.FUNCTION_ERROR,
        error_code="ValueError",
        error_text="order must be a positive integer, got 0",
        executed_version="$LATEST",
        request_id=extra.pop("request_id", "sync-1"),
        finished_at=timezone.now(),
        **extra,
    )
    grouping.group_invocation(invocation)
    return invocation


def test_a_failed_sync_invoke_is_an_event_that_search_finds_beside_the_async_ones():
    record = factories.failure_record(request_id="async-1")
    started = Invocation.objects.create(
        environment=record.environment,
        function_name="orders",
        invocation_type=Invocation.Type.EVENT,
        status=Invocation.Status.ACCEPTED,
        request_id="async-1",
    )
    ExecutionRecord.objects.filter(pk=record.pk).update(invocation=started)
    record.invocation = started
    grouping.group_records([record])
    sync = _failed_sync(record.environment)

    found = list_search.read(
        {"q": "error:ValueError version:$LATEST"},
        fields=list_search.INVOCATION_FIELDS,
        choices=list_search.INVOCATION_CHOICES,
    )
    invocations = list_search.invocations(Invocation.objects.all(), found, raw=False)

    assert set(invocations.values_list("pk", flat=True)) == {sync.pk, started.pk}
    group = FailureGroup.objects.get()
    assert group.count == 2
    assert set(group.events.values_list("kind", flat=True)) == {"async", "sync"}
    triage = list_search.read(
        {"q": "kind:sync"}, fields=list_search.GROUP_FIELDS, choices=list_search.GROUP_CHOICES
    )
    assert list(
        list_search.groups(
            FailureGroup.objects.all(), triage, environment=record.environment, user=None
        )
    ) == [group]


def _replay(record, status, **extra):
    replay = Invocation.objects.create(
        environment=record.environment,
        function_name="orders",
        status=status,
        replay_of=record,
        replay_of_event=record.event,
        finished_at=timezone.now(),
        error_code="ValueError" if status != "succeeded" else "",
        **extra,
    )
    grouping.group_invocation(replay)  # what the invoke task does with any failed invocation
    with transaction.atomic():
        events.record_replay(replay)
        grouping.refresh_backlog(record.event.group)
    return replay


def test_a_failed_replay_changes_no_count_and_a_fixed_one_empties_the_backlog():
    earlier = timezone.now() - timedelta(hours=1)
    record = factories.failure_record(received_at=earlier)
    grouping.group_records([record])
    group = FailureGroup.objects.get()

    failed = _replay(record, Invocation.Status.FUNCTION_ERROR)

    group.refresh_from_db()
    assert (group.count, group.last_seen, group.backlog_count) == (1, earlier, 1)
    assert failed.failure_group_id is None
    assert diagnosis.find(group, f"i{failed.pk}").event == record.event  # found by the replay
    assert FailedEvent.objects.count() == 1

    _replay(record, Invocation.Status.SUCCEEDED)

    group.refresh_from_db()
    event = FailedEvent.objects.get()
    assert (event.replay_count, event.last_replay_status, event.replayed_ok) == (
        2,
        "succeeded",
        True,
    )
    assert (group.count, group.backlog_count) == (1, 0)
    assert [r.status for r in event.replays.order_by("id")] == ["function_error", "succeeded"]


def test_the_group_page_keeps_the_last_replay_apart_from_the_last_failure(client, alice):
    earlier = timezone.now() - timedelta(hours=1)
    record = factories.failure_record(received_at=earlier)
    grouping.group_records([record])
    _replay(record, Invocation.Status.FUNCTION_ERROR)
    group = FailureGroup.objects.get()
    client.force_login(alice)

    page = client.get(f"/groups/{group.pk}/").text

    last_replay = page.split('id="last-replay"', 1)[1].split("</div>", 1)[0]
    assert "function error" in last_replay
    assert group.last_seen == earlier


def test_the_breakdown_reads_the_events_best_facts_not_their_dead_letters():
    for n, version in enumerate(["$LATEST"] * 3 + ["1"]):
        grouping.group_records([_letter(f"req-{n}")])
        grouping.group_records([factories.failure_record(request_id=f"req-{n}", version=version)])
    group = FailureGroup.objects.get()

    figures = diagnosis.breakdown(group, timezone.now() - timedelta(days=1))

    assert figures["version"] == [("$LATEST", 3), ("1", 1)]
    assert figures["condition"] == [("RetriesExhausted", 4)]
    assert group.count == 4


def test_an_occurrence_key_that_names_nothing_of_the_group_finds_nothing():
    record = factories.failure_record()
    grouping.group_records([record])
    group = FailureGroup.objects.get()

    for key in ["", "r", "x1", f"r{record.pk + 100}", "i99999999999999999999", "e-1", "r1.5"]:
        assert diagnosis.find(group, key) is None


def test_the_record_and_request_pages_name_the_event_and_its_group(client, alice):
    from django.urls import reverse

    letter = _letter("req-pages")
    record = factories.failure_record(request_id="req-pages", version="1")
    grouping.group_records([letter, record])
    group = FailureGroup.objects.get()
    client.force_login(alice)

    letter_page = client.get(reverse("record", args=[letter.pk])).text
    request_page = client.get(reverse("request", args=["req-pages"])).text

    for page in (letter_page, request_page):
        assert "Failed event" in page
        assert f"?occurrence=e{record.event_id}" in page
        assert group.title in page
    assert "(the message carries no time)" in letter_page
    occurrence = client.get(reverse("group", args=[group.pk]), {"occurrence": f"r{letter.pk}"})
    assert "is not one of this group" not in occurrence.text
    assert f"r{record.pk}" in occurrence.text


def test_a_report_that_loses_the_race_to_create_its_event_joins_the_stored_one():
    # Two pollers (the OnFailure queue's and the DLQ's) each found no event for the request;
    # the OnFailure one stored it first. The dead letter's insert then meets the unique key.
    record = factories.failure_record(request_id="raced")
    grouping.group_records([record])
    letter = _letter("raced")
    unseen = events._new_event(letter)
    event_facts.absorb(unseen, event_facts.from_record(letter))
    unseen.primary_record = letter
    left: set[int] = set()

    with transaction.atomic():
        grouping._place(unseen, [letter], events.fingerprint_of(unseen), left)
        grouping._drop_empty(left)

    group = FailureGroup.objects.get()
    assert (group.count, group.error_type) == (1, "ValueError")
    letter.refresh_from_db()
    assert letter.event_id == record.event_id and letter.failure_group_id == group.pk


def test_new_events_of_a_batch_stored_first_by_another_poller_join_the_stored_ones():
    # This batch found no event for either request; meanwhile another poller stored one of
    # them (its OnFailure record). The batch's one insert skips that event: it is not counted
    # twice, and its dead letter joins the stored event and its group.
    record = factories.failure_record(request_id="raced")
    grouping.group_records([record])
    fresh = []
    for letter in (_letter("raced"), _letter("not raced")):
        unseen = events._new_event(letter)
        event_facts.absorb(unseen, event_facts.from_record(letter))
        unseen.primary_record = letter
        fresh.append((unseen, [letter]))
    left: set[int] = set()
    reported: dict[int, tuple[int, int]] = {}

    with transaction.atomic():
        grouping._place_new(fresh, events.fingerprint_of(fresh[0][0]), left, reported)
        grouping._link_reports(reported)
        grouping._drop_empty(left)

    (raced, [raced_letter]), (other, [other_letter]) = fresh
    stored = FailedEvent.objects.get(request_id="raced")
    assert FailedEvent.objects.count() == 2
    assert raced.pk is None and raced_letter.event_id == stored.pk == record.event_id
    assert ExecutionRecord.objects.get(pk=raced_letter.pk).event_id == stored.pk
    assert ExecutionRecord.objects.get(pk=other_letter.pk).event_id == other.pk is not None
    counts = dict(FailureGroup.objects.values_list("pk", "count"))
    assert counts == {stored.group_id: 1, other.group_id: 1}
    assert stored.group_id != other.group_id  # the letter's own group kept its new event
