"""One page per request ID: the invocation, its records, its group, its replays and where they
came from, in the environment the request belongs to; every request ID links there."""

import pytest

from invocations.failures import grouping
from invocations.models import Environment, ExecutionRecord, FailureGroup, Invocation
from tests import factories

pytestmark = pytest.mark.django_db

REQUEST = "8f0e6c1a-3b4d-4f5e-9a6b-7c8d9e0f1a2b"


def _failed_request():
    env = Environment.objects.default()
    invocation = Invocation.objects.create(
        environment=env,
        function_name="orders",
        invocation_type="Event",
        status="accepted",
        request_id=REQUEST,
        payload='{"order": -1}',
    )
    failure = factories.failure_record(request_id=REQUEST)
    dead = factories.failure_record(request_id=REQUEST, kind=ExecutionRecord.Kind.DLQ)
    grouping.group_records([failure, dead])
    return invocation, failure, dead


def test_it_shows_the_invocation_every_record_and_the_group(client, alice):
    invocation, failure, dead = _failed_request()
    group = FailureGroup.objects.get(records=failure)
    client.force_login(alice)

    response = client.get(f"/requests/{REQUEST}/")

    assert response.status_code == 200
    body = response.content.decode()
    assert f"/invocations/{invocation.pk}/" in body
    assert f"/records/{failure.pk}/" in body and f"/records/{dead.pk}/" in body
    assert f"/groups/{group.pk}/" in body
    assert f'hx-get="/records/{failure.pk}/logs/"' in body
    assert "Not replayed." in body


def test_it_lists_replays_with_the_record_each_came_from(client, alice):
    invocation, failure, dead = _failed_request()
    replayed = Invocation.objects.create(
        environment=invocation.environment,
        function_name="orders",
        status="succeeded",
        request_id="c0ffee00-1111-2222-3333-444455556666",
        replay_of=dead,
    )
    client.force_login(alice)

    body = client.get(f"/requests/{REQUEST}/").content.decode()
    its_own = client.get(f"/requests/{replayed.request_id}/").content.decode()

    assert f"Invocation #{replayed.pk}" in body
    assert f"/records/{dead.pk}/" in body.split('id="replays-title"')[1]
    assert f"/requests/{replayed.request_id}/" in body
    assert "a replay of" in its_own and f"/requests/{REQUEST}/" in its_own


@pytest.mark.parametrize("request_id", ["unknown-id", "x" * 65, "%3Cscript%3E"])
def test_an_unknown_request_id_is_a_404(client, alice, request_id):
    _failed_request()
    client.force_login(alice)

    assert client.get(f"/requests/{request_id}/").status_code == 404


def test_someone_without_the_view_permission_gets_no_page(client, charlie):
    _failed_request()
    client.force_login(charlie)

    assert client.get(f"/requests/{REQUEST}/").status_code in (403, 404)


def test_it_opens_in_the_environment_of_the_request(client, alice):
    staging = Environment.objects.create(name="staging", region="eu-west-1")
    watched = factories.queue(environment=staging, function="orders", name="orders-staging")
    factories.failure_record(request_id=REQUEST, watched=watched)
    client.force_login(alice)

    response = client.get(f"/requests/{REQUEST}/")

    assert response.status_code == 200
    assert response.context["trail"].environment == staging
    assert response.context["request"].environment == staging
    assert "Request in environment <strong>staging</strong>" in response.content.decode()


def test_request_ids_on_the_lists_and_detail_pages_link_to_the_request_page(client, alice):
    invocation, failure, dead = _failed_request()
    group = FailureGroup.objects.get(records=failure)
    client.force_login(alice)
    link = f'href="/requests/{REQUEST}/"'

    for url in [
        "/records/",
        "/invocations/",
        f"/records/{failure.pk}/",
        f"/groups/{group.pk}/",
    ]:
        assert link in client.get(url).content.decode(), url


def test_records_and_invocations_link_to_their_group(client, alice):
    invocation, failure, dead = _failed_request()
    group = FailureGroup.objects.get(records=failure)
    Invocation.objects.filter(pk=invocation.pk).update(failure_group=group)
    client.force_login(alice)
    link = f'href="/groups/{group.pk}/"'

    for url in [
        "/records/",
        "/invocations/",
        f"/records/{failure.pk}/",
        f"/invocations/{invocation.pk}/",
    ]:
        assert link in client.get(url).content.decode(), url


def test_a_request_id_that_cannot_be_a_path_is_shown_without_a_link(client, alice):
    factories.failure_record(request_id="odd/id with spaces")
    client.force_login(alice)

    body = client.get("/records/").content.decode()

    assert 'title="odd/id with spaces"' in body
    assert "/requests/odd" not in body


def test_the_function_page_links_to_its_groups_records_and_invocations(client, alice):
    from invocations.models import Function

    _failed_request()
    Function.objects.create(environment=Environment.objects.default(), name="orders")
    client.force_login(alice)

    body = client.get("/functions/orders/").content.decode()
    groups = client.get("/?function=orders&status=all").content.decode()

    assert 'href="/?function=orders&amp;status=all"' in body
    assert 'href="/records/?function=orders"' in body
    assert 'href="/invocations/?function=orders"' in body
    assert "order must be a positive integer" in groups
