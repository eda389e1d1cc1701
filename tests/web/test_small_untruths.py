"""The smaller things pages said that were not quite true: labels, counts in words, times,
status casing, confirmations, and rows that stayed where they no longer belonged."""

from datetime import UTC, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from invocations.failures import grouping
from invocations.models import (
    Environment,
    ExecutionRecord,
    FailureGroup,
    Function,
    Invocation,
    ReplayBatch,
)
from invocations.templatetags.display import ago
from tests import factories


@pytest.fixture
def env(db):
    return Environment.objects.default()


def grouped(**kwargs):
    record = factories.failure_record(**kwargs)
    grouping.group_records([record])
    return record, FailureGroup.objects.get(
        pk=ExecutionRecord.objects.get(pk=record.pk).failure_group_id
    )


def test_dry_run_payloads_are_labelled_with_their_record(client, alice, env):
    record, group = grouped()
    client.force_login(alice)

    page = client.get(reverse("replay-plan") + f"?group={group.pk}")

    assert f"Record #{record.pk}" in page.text


def test_updating_the_dry_run_with_an_edited_payload_previews_the_edited_payload(
    client, alice, env
):
    from django.contrib.auth.models import Permission

    _, group = grouped(payload={"id": "order-from-the-record"})
    # Editing a payload before replay needs the raw-payload permission: Alice has it here.
    alice.user_permissions.add(Permission.objects.get(codename="view_raw_payload"))
    client.force_login(alice)
    edited = '{"order": 424242}'

    page = client.get(reverse("replay-plan"), {"group": group.pk, "payload": edited})

    preview = page.text.split("<h2>Payloads</h2>", 1)[1]
    assert "424242" in preview
    assert "order-from-the-record" not in preview


def test_replay_selected_with_nothing_selected_says_so_instead_of_an_empty_plan(client, alice, env):
    _, group = grouped()
    client.force_login(alice)

    answer = client.get(reverse("replay-plan") + f"?back={group.pk}", follow=True)

    assert answer.redirect_chain[-1][0] == reverse("group", args=[group.pk])
    assert "Select at least one record to replay." in answer.text
    assert "Replay: dry run" not in answer.text


def test_a_batch_stopped_by_the_breaker_offers_to_replay_the_rest(client, alice, env):
    records = [grouped(message="boom")[0] for _ in range(4)]
    batch = ReplayBatch.objects.create(
        environment=env,
        group=FailureGroup.objects.get(),
        function_name="orders",
        record_ids=[r.pk for r in records],
        status=ReplayBatch.Status.STOPPED,
        position=2,
        failed=2,
        consecutive_failures=2,
    )
    client.force_login(alice)

    page = client.get(reverse("replay-batch", args=[batch.pk]))
    plan = client.get(reverse("replay-plan") + f"?rest_of={batch.pk}&function=orders")

    assert "Replay the remaining 2 records…" in page.text
    assert "Replay 2 records" in plan.text
    assert f"Record #{records[2].pk}" in plan.text and f"Record #{records[3].pk}" in plan.text
    assert f"Record #{records[0].pk}" not in plan.text


def test_a_group_resolved_from_the_open_view_leaves_the_table_with_a_message(client, alice, env):
    _, group = grouped()
    client.force_login(alice)

    answer = client.post(
        reverse("groups-bulk"),
        {"groups": [group.pk], "action": "resolved", "next": reverse("triage")},
        headers={"HX-Request": "true"},
    )

    assert f'<tr id="group-{group.pk}" hx-swap-oob="delete">' in answer.text
    assert f"resolve: 1 group (#{group.pk} {group.function_name}: " in answer.text
    assert answer.headers["HX-Trigger"] == '{"selection-cleared": {}}'


def test_a_group_action_confirms_what_it_did(client, alice, env):
    _, group = grouped()
    client.force_login(alice)

    page = client.post(
        reverse("group-action", args=[group.pk, "status"]),
        {"status": "acknowledged"},
        follow=True,
    )

    assert "Status changed to acknowledged." in page.text


def test_counts_in_words_agree_with_their_number(alice, env):
    from invocations.access.actor import Actor
    from invocations.invoking import replay

    record, group = grouped()
    plan = replay.plan([record], env, "orders")

    replay.start(plan, Actor.person(alice), group=group)

    assert group.activity.filter(text__contains=": 1 record to orders").exists()


def test_times_under_a_minute_read_just_now_or_seconds():
    now = timezone.now()

    assert ago(now - timedelta(seconds=3), now) == "just now"
    assert ago(now - timedelta(seconds=40), now) == "40 s ago"
    assert ago(now - timedelta(minutes=3, seconds=5), now) == "3 minutes ago"
    assert ago(now + timedelta(seconds=30), now) == "in 30 s"


def test_detail_fields_show_the_exact_time_and_sentences_have_no_stray_space(client, bob, env):
    _, group = grouped()
    invocation = Invocation.objects.create(
        environment=env, function_name="hello", status="succeeded", status_code=200
    )
    client.force_login(bob)

    group_page = client.get(reverse("group", args=[group.pk])).text
    invocation_page = client.get(reverse("invocation", args=[invocation.pk])).text

    exact = f"({group.first_seen.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC)"
    assert exact in group_page
    assert "just now</time>." in invocation_page
    assert "0 minutes" not in invocation_page


def test_status_words_are_cased_the_same_on_every_page(client, alice, env):
    grouped(kind=ExecutionRecord.Kind.FAILURE)
    client.force_login(alice)

    records = client.get(reverse("records")).text
    group_page = client.get(reverse("group", args=[FailureGroup.objects.get().pk])).text

    assert ">failure</span>" in records and ">Failure<" not in records
    assert '<option value="open" selected>open</option>' in group_page


def test_a_dead_letter_without_error_type_does_not_start_with_a_colon(client, bob, env):
    Function.objects.create(environment=env, name="orders")
    factories.failure_record(kind="dlq", error_type="", message="order must be positive")
    client.force_login(bob)

    page = client.get(reverse("function", args=["orders"])).text

    assert "<td>order must be positive</td>" in page


def test_a_dead_letter_group_shows_the_body_a_replay_would_send(client, alice, env):
    letter = factories.failure_record(
        function="queue-worker",
        kind=ExecutionRecord.Kind.DLQ,
        watched=factories.queue(env, kind="dlq", function="queue-worker"),
    )
    ExecutionRecord.objects.filter(pk=letter.pk).update(
        request_payload=None, raw_body="quantity=seven"
    )
    grouping.group_records([ExecutionRecord.objects.get(pk=letter.pk)])
    group = ExecutionRecord.objects.get(pk=letter.pk).failure_group
    client.force_login(alice)

    page = client.get(reverse("group", args=[group.pk])).text

    assert "quantity=seven" in page
