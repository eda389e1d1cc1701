"""Which conditions fire, and that each problem fires once until it clears."""

from datetime import timedelta

import pytest
from django.utils import timezone

from alerts import delivery, evaluator
from alerts.models import AlertState, Notification
from invocations.failures import grouping
from invocations.models import FailureGroup, WatchedQueue
from tests import factories
from tests.alerts_support import channel, evaluate_settled, rule, settled

pytestmark = pytest.mark.django_db

HOOK = "http://127.0.0.1:9/hook"  # never contacted: these tests do not deliver


def _events():
    return list(Notification.objects.order_by("id").values_list("event", flat=True))


def test_a_group_that_existed_before_the_rule_is_not_news():
    grouping.group_records([factories.failure_record()])
    rule(channel(HOOK))

    assert evaluate_settled() == 0


def test_a_new_group_waits_for_the_settle_window():
    rule(channel(HOOK))
    grouping.group_records([factories.failure_record()])
    now = timezone.now()

    evaluator.evaluate(now)
    early = evaluator.evaluate(now + timedelta(seconds=5))
    settled_count = evaluator.evaluate(settled(now))

    assert (early, settled_count) == (0, 1)


def test_one_request_whose_records_arrive_from_two_queues_a_poll_apart_is_one_problem():
    rule(channel(HOOK))
    letter = factories.failure_record(
        kind="dlq", error_type="", request_id="6f1c9c1e-1f4b-4f7e-9d2a-7a1c2b3d4e5f"
    )
    now = timezone.now()
    grouping.group_records([letter])  # first poll: the dead letter makes a group of its own
    evaluator.evaluate(now)

    grouping.group_records([factories.failure_record(request_id=letter.request_id)])  # next poll
    evaluator.evaluate(now + timedelta(seconds=10))
    evaluator.evaluate(settled(now + timedelta(seconds=10)))

    notification = Notification.objects.get()
    assert notification.event == "new_group"
    assert notification.payload["error"]["type"] == "ValueError"
    assert FailureGroup.objects.count() == 1


def test_a_dead_letter_arriving_after_its_record_adds_no_message():
    rule(channel(HOOK))
    record = factories.failure_record()
    grouping.group_records([record])
    evaluate_settled()

    grouping.group_records([factories.failure_record(kind="dlq", request_id=record.request_id)])
    evaluate_settled()

    assert _events() == ["new_group"]


@pytest.mark.parametrize(
    ("change", "fields"),
    [
        ({"status": "acknowledged"}, {}),
        ({"status": "ignored"}, {}),
        ({"snooze_until_count": 50}, {}),
    ],
)
def test_a_group_put_aside_sends_nothing(change, fields):
    rule(channel(HOOK), **fields)
    grouping.group_records([factories.failure_record()])
    FailureGroup.objects.update(**change)

    assert evaluate_settled() == 0


def test_an_acknowledged_group_still_notifies_when_the_rule_says_so():
    rule(channel(HOOK), skip_acknowledged=False)
    grouping.group_records([factories.failure_record()])
    FailureGroup.objects.update(status="acknowledged")

    assert evaluate_settled() == 1


def test_an_assigned_group_is_quiet_only_if_the_rule_says_so(admin_user):
    rule(channel(HOOK, name="a"), name="quiet")
    rule(channel(HOOK, name="b"), name="loud", skip_assigned=False)
    grouping.group_records([factories.failure_record()])
    FailureGroup.objects.update(assignee=admin_user)

    evaluate_settled()

    assert list(Notification.objects.values_list("rule__name", flat=True)) == ["loud"]


def test_filters_on_function_error_type_and_kind():
    rule(
        channel(HOOK),
        function_patterns="orders-*",
        error_types="Value*",
        kinds="failure",
    )
    grouping.group_records(
        [
            factories.failure_record(function="orders-api", error_type="ValueError"),
            factories.failure_record(function="orders-api", error_type="KeyError"),
            factories.failure_record(function="billing", error_type="ValueError"),
        ]
    )
    letter = factories.failure_record(function="orders-eu", kind="dlq", error_type="")
    grouping.group_records([letter])

    evaluate_settled()

    notification = Notification.objects.get()
    assert notification.payload["function"] == "orders-api"
    assert notification.payload["error"]["type"] == "ValueError"


def test_a_spike_fires_once_and_again_only_after_a_quiet_period(settings):
    settings.ALERT_SPIKE_QUIET_MINUTES = 10
    rule(channel(HOOK), on_new_group=False, spike_count=5, spike_minutes=5)
    grouping.group_records([factories.failure_record() for _ in range(4)])
    now = timezone.now()
    assert evaluator.evaluate(now) == 0

    grouping.group_records([factories.failure_record() for _ in range(3)])
    fired = evaluator.evaluate(now)
    still_spiking = evaluator.evaluate(now + timedelta(minutes=1))
    after_window_not_quiet_yet = evaluator.evaluate(now + timedelta(minutes=6))
    after_quiet = evaluator.evaluate(now + timedelta(minutes=17))
    state = AlertState.objects.get(condition="spike")
    assert (fired, still_spiking, after_window_not_quiet_yet, after_quiet) == (1, 0, 0, 0)
    assert not state.active

    grouping.group_records([factories.failure_record() for _ in range(5)])
    again = evaluator.evaluate()

    assert again == 1
    assert Notification.objects.first().payload["counts"]["window_count"] == 12


def test_an_old_unreplayed_failure_fires_once_and_clears_when_replayed():
    rule(channel(HOOK), on_new_group=False, backlog_minutes=60)
    grouping.group_records(
        [factories.failure_record(received_at=timezone.now() - timedelta(hours=2))]
    )

    first = evaluator.evaluate()
    second = evaluator.evaluate()
    FailureGroup.objects.update(backlog_count=0, backlog_oldest=None)
    evaluator.evaluate()

    assert (first, second) == (1, 0)
    assert not AlertState.objects.get().active


def test_a_queue_whose_polls_fail_for_long_enough_fires_once():
    rule(channel(HOOK), on_new_group=False, poll_failing_minutes=5)
    queue = factories.queue()
    now = timezone.now()
    WatchedQueue.objects.filter(pk=queue.pk).update(
        last_polled_at=now - timedelta(minutes=2), last_error="AccessDenied", last_error_at=now
    )
    assert evaluator.evaluate(now) == 0

    WatchedQueue.objects.filter(pk=queue.pk).update(last_polled_at=now - timedelta(minutes=6))
    assert evaluator.evaluate(now) == 1
    assert evaluator.evaluate(now) == 0

    assert "Polls of orders-on-failure" in Notification.objects.get().title


def test_a_dead_letter_queue_deeper_than_the_threshold_fires_from_stored_records():
    rule(channel(HOOK), on_new_group=False, dlq_depth=2)
    letters = factories.queue(kind="dlq")
    grouping.group_records(
        [factories.failure_record(kind="dlq", watched=letters, error_type="") for _ in range(2)]
    )
    assert evaluator.evaluate() == 0

    grouping.group_records([factories.failure_record(kind="dlq", watched=letters, error_type="")])

    assert evaluator.evaluate() == 1
    assert Notification.objects.get().payload["counts"]["depth"] == 3


def test_a_disabled_rule_sends_nothing():
    rule(channel(HOOK), enabled=False)
    grouping.group_records([factories.failure_record()])

    assert evaluate_settled() == 0


def test_under_the_threshold_each_group_gets_its_own_message():
    rule(channel(HOOK, digest_after=3))
    grouping.group_records(
        [factories.failure_record(error_type=f"Error{i}", message=f"case {i}") for i in range(3)]
    )

    evaluate_settled()

    assert _events() == ["new_group"] * 3


def _steady_queries() -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        evaluator.evaluate()
    return len(queries)


def test_a_steady_state_costs_the_same_queries_however_many_problems_are_open():
    rule(channel(HOOK), on_new_group=False, on_regression=True, backlog_minutes=60)
    old = timezone.now() - timedelta(hours=2)

    def add_groups(start, count):
        grouping.group_records(
            [
                factories.failure_record(error_type=f"E{i}", message=f"m{i}", received_at=old)
                for i in range(start, start + count)
            ]
        )

    add_groups(0, 3)
    evaluator.evaluate()
    few = _steady_queries()
    add_groups(3, 30)
    evaluator.evaluate()
    many = _steady_queries()

    assert AlertState.objects.filter(active=True).count() == 33
    assert many == few


def test_a_storm_that_goes_on_gets_one_digest_a_minute():
    rule(channel(HOOK, digest_after=5))
    start = timezone.now()

    def tick(first, count, seconds):
        grouping.group_records(
            [
                factories.failure_record(error_type=f"Storm{i}", message=f"m{i}")
                for i in range(first, first + count)
            ]
        )
        moment = start + timedelta(seconds=seconds)
        evaluator.evaluate(moment)
        return evaluator.evaluate(settled(moment))

    created = [tick(0, 20, 0), tick(20, 20, 15), tick(40, 10, 30)]

    digests = list(Notification.objects.order_by("id"))
    assert created == [1, 1, 0]
    assert [n.event for n in digests] == ["digest", "digest"]
    assert [n.payload["count"] for n in digests] == [20, 30]
    assert digests[1].groups.count() == 30
    assert digests[1].send_after == digests[0].created_at + timedelta(minutes=1)
    assert digests[1].title == "30 alerts in default within a minute"
    delivery.deliver(digests[1].pk)  # held: not due yet
    digests[1].refresh_from_db()
    assert (digests[1].status, digests[1].attempts) == ("pending", 0)


def test_groups_a_rule_filters_out_are_read_once_not_every_round():
    rule(channel(HOOK), function_patterns="billing")
    grouping.group_records(
        [factories.failure_record(error_type=f"E{i}", message=f"m{i}") for i in range(5)]
    )

    evaluate_settled()

    assert Notification.objects.count() == 0
    assert AlertState.objects.filter(suppressed=True).count() == 5
    assert set(AlertState.objects.values_list("fired_at", flat=True)) != {None}
