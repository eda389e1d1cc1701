import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from invocations.access.actor import Actor
from invocations.failures import grouping, triage
from invocations.models import AuditEvent, FailureGroup
from tests import factories

pytestmark = pytest.mark.django_db


def _groups(n: int, prefix: str = "fn"):
    records = [
        factories.failure_record(function=f"{prefix}-{i}", message=f"boom {i}") for i in range(n)
    ]
    grouping.group_records(records)
    return list(FailureGroup.objects.order_by("function_name"))


def _queries(client, url):
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200
    return len(captured)


def test_the_triage_page_lists_groups_with_their_figures(client, alice):
    _groups(2)
    client.force_login(alice)

    response = client.get("/")

    assert response.status_code == 200
    body = response.content.decode()
    assert "fn-0" in body and "fn-1" in body
    assert "ValueError" in body
    assert '<svg class="spark"' in body


def test_the_triage_pages_query_count_does_not_grow_with_the_groups_shown(client, alice):
    client.force_login(alice)
    _groups(2)
    few = _queries(client, "/")

    _groups(12, prefix="more")
    many = _queries(client, "/")

    assert FailureGroup.objects.count() == 14
    assert many == few


def test_filters_narrow_the_list_and_stay_in_the_url(client, alice):
    groups = _groups(3)
    client.force_login(alice)
    triage.assign(groups[0], alice, Actor.person(alice))

    mine = client.get("/?assignee=me").content.decode()
    by_function = client.get("/?function=fn-2").content.decode()

    assert "fn-0" in mine and "fn-1" not in mine
    assert "fn-2" in by_function and "fn-0" not in by_function


def test_an_empty_triage_page_says_where_failures_come_from(client, alice):
    factories.queue(function="orders")
    client.force_login(alice)

    body = client.get("/").content.decode()

    assert "Nothing failing here" in body
    assert "orders-on-failure" in body


def test_bulk_actions_change_the_selected_groups_and_swap_only_their_rows(client, alice):
    groups = _groups(3)
    client.force_login(alice)

    response = client.post(
        "/groups/bulk/",
        {"groups": [groups[0].pk, groups[1].pk], "action": "acknowledged"},
        HTTP_HX_REQUEST="true",
    )

    assert response.status_code == 200
    body = response.content.decode()
    assert f'id="group-{groups[0].pk}" hx-swap-oob="true"' in body
    assert f'id="group-{groups[1].pk}"' in body
    assert f'id="group-{groups[2].pk}"' not in body
    statuses = dict(FailureGroup.objects.values_list("pk", "status"))
    assert statuses == {
        groups[0].pk: "acknowledged",
        groups[1].pk: "acknowledged",
        groups[2].pk: "open",
    }
    assert AuditEvent.objects.filter(action="group.acknowledged").count() == 2


def test_bulk_assign_and_snooze(client, alice):
    groups = _groups(2)
    client.force_login(alice)

    client.post("/groups/bulk/", {"groups": [groups[0].pk], "action": "assign_me"})
    client.post("/groups/bulk/", {"groups": [groups[1].pk], "action": "snooze_24"})

    groups = list(FailureGroup.objects.order_by("function_name"))
    assert groups[0].assignee == alice
    assert groups[1].is_snoozed
    listed = client.get("/").content.decode()
    assert f'id="group-{groups[1].pk}"' not in listed  # snoozed groups leave the default list
    assert f'id="group-{groups[1].pk}"' in client.get("/?status=snoozed").content.decode()


def test_a_viewer_cannot_change_groups(client, bob):
    groups = _groups(1)
    client.force_login(bob)

    response = client.post("/groups/bulk/", {"groups": [groups[0].pk], "action": "ignored"})

    assert response.status_code == 403
    assert FailureGroup.objects.get().status == "open"


def test_the_group_page_shows_occurrences_the_stack_and_the_timeline(client, alice):
    record = factories.failure_record()
    record.stack_trace = 'File "/var/task/lambda_function.py", line 6, in lambda_handler'
    record.save()
    grouping.group_records([record])
    group = FailureGroup.objects.get()
    client.force_login(alice)
    client.post(f"/groups/{group.pk}/comment/", {"text": "looking <b>now</b>"})
    client.post(f"/groups/{group.pk}/status/", {"status": "resolved", "version": "9"})

    body = client.get(f"/groups/{group.pk}/").content.decode()

    assert "lambda_function.py" in body
    assert f"#{record.pk}" in body
    assert "looking &lt;b&gt;now&lt;/b&gt;" in body
    assert "fixed in 9" in body
    group.refresh_from_db()
    assert group.status == "resolved"


def test_a_refused_transition_on_the_group_page_is_a_message_not_an_error(client, alice):
    grouping.group_records([factories.failure_record()])
    group = FailureGroup.objects.get()
    client.force_login(alice)
    client.post(f"/groups/{group.pk}/status/", {"status": "ignored"})

    response = client.post(f"/groups/{group.pk}/status/", {"status": "acknowledged"}, follow=True)

    assert response.status_code == 200
    assert "cannot become acknowledged" in response.content.decode()
