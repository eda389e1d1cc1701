from datetime import timedelta

import pytest
from django.utils import timezone

from invocations.access.actor import Actor
from invocations.failures import events, grouping, triage
from invocations.models import AuditEvent, FailureGroup, GroupActivity, Invocation
from tests import factories

pytestmark = pytest.mark.django_db


def _group(*records):
    grouping.group_records(list(records))
    return FailureGroup.objects.get()


def test_failures_that_differ_only_in_variable_parts_share_one_group():
    first = factories.failure_record(message="order must be a positive integer, got -1")
    second = factories.failure_record(message="order must be a positive integer, got -7")

    grouping.group_records([first, second])

    group = FailureGroup.objects.get()
    assert group.count == 2
    assert group.function_name == "orders"
    assert group.error_type == "ValueError"
    assert group.backlog_count == 2
    assert set(group.records.values_list("pk", flat=True)) == {first.pk, second.pk}


def test_other_functions_and_other_errors_get_their_own_groups():
    records = [
        factories.failure_record(function="orders"),
        factories.failure_record(function="billing"),
        factories.failure_record(function="orders", error_type="KeyError", message="'sku'"),
    ]

    grouping.group_records(records)

    assert FailureGroup.objects.count() == 3


def test_successes_are_not_grouped():
    ok = factories.failure_record(kind="success", condition="Success", error_type="", message="")

    assert grouping.group_records([ok]) == 0
    assert FailureGroup.objects.count() == 0


def test_a_dead_letter_without_a_function_name_uses_its_queues_function():
    watched = factories.queue(function="orders", kind="dlq")
    letter = factories.failure_record(
        kind="dlq",
        function="",
        error_type="",
        watched=watched,
        message="ValueError: order must be positive",
    )

    group = _group(letter)

    assert group.function_name == "orders"
    assert group.error_class == "dlq_message"


def test_a_failed_synchronous_invocation_joins_a_group(alice):
    env = factories.queue().environment
    invocation = Invocation.objects.create(
        environment=env,
        function_name="orders",
        status=Invocation.Status.FUNCTION_ERROR,
        error_code="ValueError",
        error_text="order must be a positive integer, got -3",
        finished_at=timezone.now(),
    )

    group = grouping.group_invocation(invocation)

    assert group is not None and group.count == 1
    assert invocation.failure_group == group
    assert grouping.group_invocation(invocation) is None  # grouped once only


def test_a_successful_invocation_is_not_grouped():
    env = factories.queue().environment
    invocation = Invocation.objects.create(
        environment=env, function_name="orders", status=Invocation.Status.SUCCEEDED
    )

    assert grouping.group_invocation(invocation) is None


def test_the_workflow_moves_open_to_acknowledged_to_resolved_and_writes_the_timeline(alice):
    group = _group(factories.failure_record())
    actor = Actor.person(alice)

    triage.set_status(group, "acknowledged", actor)
    triage.set_status(group, "resolved", actor, version="7")

    group.refresh_from_db()
    assert group.status == "resolved"
    assert group.resolved_in_version == "7"
    assert list(GroupActivity.objects.values_list("kind", flat=True)) == ["status", "status"]
    events = AuditEvent.objects.filter(action__startswith="group.")
    actions = list(events.order_by("id").values_list("action", flat=True))
    assert actions == ["group.acknowledged", "group.resolved"]


def test_a_transition_that_is_not_allowed_is_refused(alice):
    group = _group(factories.failure_record())
    triage.set_status(group, "ignored", Actor.person(alice))

    with pytest.raises(triage.TriageError, match="cannot become acknowledged"):
        triage.set_status(group, "acknowledged", Actor.person(alice))


def test_a_failure_from_a_newer_version_reopens_a_resolved_group_as_regressed(alice):
    group = _group(factories.failure_record(version="6"))
    triage.set_status(group, "resolved", Actor.person(alice), version="7")

    grouping.group_records([factories.failure_record(version="8")])

    group.refresh_from_db()
    assert group.status == "open"
    assert group.regressed
    assert GroupActivity.objects.filter(kind="regression").exists()


def test_a_failure_from_an_older_version_does_not_reopen_it(alice):
    group = _group(factories.failure_record(version="6"))
    triage.set_status(group, "resolved", Actor.person(alice), version="7")

    grouping.group_records([factories.failure_record(version="5")])

    group.refresh_from_db()
    assert group.status == "resolved"
    assert group.count == 2


def test_any_new_failure_reopens_a_group_resolved_without_a_version(alice):
    group = _group(factories.failure_record(version="3"))
    triage.set_status(group, "resolved", Actor.person(alice))

    grouping.group_records([factories.failure_record(version="1")])

    group.refresh_from_db()
    assert (group.status, group.regressed) == ("open", True)


def test_an_ignored_group_counts_silently(alice):
    group = _group(factories.failure_record())
    triage.set_status(group, "ignored", Actor.person(alice))

    grouping.group_records([factories.failure_record(), factories.failure_record()])

    group.refresh_from_db()
    assert (group.status, group.count) == ("ignored", 3)


def test_a_snooze_by_count_ends_after_that_many_more_occurrences(alice):
    group = _group(factories.failure_record())
    triage.snooze(group, Actor.person(alice), occurrences=2)
    assert FailureGroup.objects.snoozed().filter(pk=group.pk).exists()

    grouping.group_records([factories.failure_record()])
    group.refresh_from_db()
    assert group.is_snoozed

    grouping.group_records([factories.failure_record()])
    group.refresh_from_db()
    assert not group.is_snoozed
    assert not FailureGroup.objects.snoozed().filter(pk=group.pk).exists()


def test_a_snooze_by_time_ends_at_that_time(alice):
    group = _group(factories.failure_record())

    triage.snooze(group, Actor.person(alice), until=timezone.now() + timedelta(hours=1))
    assert group.is_snoozed

    group.snoozed_until = timezone.now() - timedelta(seconds=1)
    assert not group.is_snoozed


def test_assigning_records_before_and_after(alice, bob):
    group = _group(factories.failure_record())

    triage.assign(group, bob, Actor.person(alice))
    triage.assign(group, None, Actor.person(alice))

    event = AuditEvent.objects.filter(action="group.assign").order_by("id").last()
    assert event.details == {"before": "bob", "after": None}
    assert group.assignee is None


def test_regression_rules_for_versions():
    assert grouping.is_regression("", "1")
    assert grouping.is_regression("7", "7")
    assert grouping.is_regression("7", "12")
    assert not grouping.is_regression("7", "6")
    assert grouping.is_regression("7", "$LATEST")
    assert grouping.is_regression("prod", "3")


def test_a_dead_letter_joins_the_group_of_its_requests_failure_record():
    record = factories.failure_record(request_id="5b8f0c1e-1f4b-4f7e-9d2a-7a1c2b3d4e5f")
    grouping.group_records([record])
    letter = factories.failure_record(
        kind="dlq",
        error_type="",
        request_id=record.request_id,
        message="order must be a positive integer, got -1",
    )

    grouping.group_records([letter])

    group = FailureGroup.objects.get()
    assert group.error_type == "ValueError"
    assert group.count == 1  # one failed event, reported twice
    assert set(group.records.values_list("kind", flat=True)) == {"failure", "dlq"}


def test_a_dead_letter_that_arrived_first_moves_to_its_records_group():
    letter = factories.failure_record(
        kind="dlq",
        error_type="",
        request_id="9c8f0c1e-1f4b-4f7e-9d2a-7a1c2b3d4e5f",
        message="order must be a positive integer, got -1",
    )
    grouping.group_records([letter])
    assert FailureGroup.objects.get().error_class == "dlq_message"

    grouping.group_records([factories.failure_record(request_id=letter.request_id)])

    group = FailureGroup.objects.get()
    assert group.error_type == "ValueError"
    assert (group.count, group.backlog_count) == (1, 1)  # one event


def test_backlog_figures_add_up_batch_by_batch():
    old = timezone.now() - timedelta(days=3)
    grouping.group_records([factories.failure_record(received_at=old)])
    grouping.group_records([factories.failure_record(), factories.failure_record()])

    group = FailureGroup.objects.get()
    assert (group.count, group.backlog_count, group.backlog_oldest) == (3, 3, old)


def test_a_dead_letter_of_an_event_already_replayed_is_not_backlog():
    record = factories.failure_record()
    grouping.group_records([record])
    replayed = Invocation.objects.create(
        environment=record.environment,
        function_name="orders",
        replay_of=record,
        replay_of_event=record.event,
        status=Invocation.Status.SUCCEEDED,
    )
    events.record_replay(replayed)
    grouping.refresh_backlog(record.failure_group)
    letter = factories.failure_record(kind="dlq", error_type="", request_id=record.request_id)

    grouping.group_records([letter])

    group = FailureGroup.objects.get()
    assert (group.count, group.backlog_count) == (1, 0)


def test_a_stray_dead_letter_replayed_twice_moves_once():
    letter = factories.failure_record(kind="dlq", error_type="", function="orders")
    grouping.group_records([letter])
    for _ in range(2):  # two replays that failed: two rows when joined
        Invocation.objects.create(
            environment=letter.environment,
            function_name="orders",
            replay_of=letter,
            status=Invocation.Status.FUNCTION_ERROR,
        )

    grouping.group_records([factories.failure_record(request_id=letter.request_id)])

    group = FailureGroup.objects.get()
    assert group.error_type == "ValueError"
    assert (group.count, group.backlog_count) == (1, 1)  # one event


def test_a_new_dead_letter_keeps_the_group_whose_stray_moves_in_the_same_batch():
    stray = factories.failure_record(kind="dlq", error_type="")
    grouping.group_records([stray])
    letters_group = FailureGroup.objects.get()
    new_letter = factories.failure_record(kind="dlq", error_type="")  # another request
    record = factories.failure_record(request_id=stray.request_id)

    grouping.group_records([new_letter, record])

    letters_group.refresh_from_db()
    assert (letters_group.count, letters_group.backlog_count) == (1, 1)
    assert list(letters_group.records.all()) == [new_letter]
    errors_group = FailureGroup.objects.exclude(pk=letters_group.pk).get()
    assert (errors_group.count, errors_group.backlog_count) == (1, 1)


def test_purging_records_recounts_their_groups_backlog():
    from invocations.ingest import retention

    old = factories.failure_record(received_at=timezone.now() - timedelta(days=100))
    kept = factories.failure_record()
    grouping.group_records([old, kept])

    retention.purge_old_records(days=90)

    group = FailureGroup.objects.get()
    assert (group.backlog_count, group.backlog_oldest) == (1, kept.received_at)


def test_a_stray_named_by_two_groups_of_one_batch_moves_once():
    stray = factories.failure_record(kind="dlq", error_type="")
    grouping.group_records([stray])
    first = factories.failure_record(request_id=stray.request_id)
    second = factories.failure_record(
        request_id=stray.request_id, error_type="KeyError", message="'sku'"
    )

    grouping.group_records([first, second])

    # Three records of one request are one event, in one group: the first full report's
    # (the later one says no more); the letters' group is gone.
    group = FailureGroup.objects.get()
    assert (group.error_type, group.count, group.records.count()) == ("ValueError", 1, 3)
