"""A detail URL opens its object in the object's own environment, whoever's switcher is on
another one, so a link pasted in chat works for everyone allowed to see it; switching
environment on a detail page goes to the matching list."""

import pytest
from django.urls import reverse

from invocations.failures import grouping
from invocations.models import Environment, FailureGroup, Function, Invocation, ReplayBatch
from tests import factories


@pytest.fixture
def staging(db):
    return Environment.objects.create(name="staging", endpoint_url="http://127.0.0.1:4566")


@pytest.fixture
def on_default(client, alice):
    """Alice, her switcher on the default environment."""
    client.force_login(alice)
    session = client.session
    session["environment_id"] = Environment.objects.default().pk
    session.save()
    return client


def staging_objects(staging):
    watched = factories.queue(environment=staging, function="orders")
    record = factories.failure_record(watched=watched)
    grouping.group_records([record])
    invocation = Invocation.objects.create(
        environment=staging, function_name="orders", status="succeeded", status_code=200
    )
    function = Function.objects.create(environment=staging, name="orders")
    batch = ReplayBatch.objects.create(environment=staging, function_name="orders")
    return {
        "group": FailureGroup.objects.get(),
        "record": record,
        "invocation": invocation,
        "function": function,
        "batch": batch,
    }


def test_every_detail_url_opens_in_its_objects_environment(on_default, staging):
    objects = staging_objects(staging)
    urls = [
        reverse("group", args=[objects["group"].pk]),
        reverse("record", args=[objects["record"].pk]),
        reverse("invocation", args=[objects["invocation"].pk]),
        reverse("function", args=["orders"]),
        reverse("replay-batch", args=[objects["batch"].pk]),
    ]

    for url in urls:
        page = on_default.get(url)

        assert page.status_code == 200, url
        assert "You are looking at environment <strong>staging</strong>" in page.text, url
        assert "your switcher stays on <strong>default</strong>" in page.text, url
    assert on_default.session["environment_id"] == Environment.objects.default().pk


def test_a_function_named_in_two_environments_opens_in_the_one_its_url_names(on_default, staging):
    Function.objects.create(environment=staging, name="orders", description="the staging one")
    Function.objects.create(
        environment=Environment.objects.default(), name="orders", description="the default one"
    )

    pinned = on_default.get(reverse("function", args=["orders"]) + "?env=staging")
    unpinned = on_default.get(reverse("function", args=["orders"]))

    assert "the staging one" in pinned.text and "the default one" not in pinned.text
    assert "the default one" in unpinned.text


def test_actions_on_a_group_of_another_environment_work(on_default, staging):
    group = staging_objects(staging)["group"]

    answer = on_default.post(
        reverse("group-action", args=[group.pk, "comment"]), {"text": "looking at it"}
    )

    assert answer.status_code == 302
    assert group.activity.filter(kind="comment", text="looking at it").exists()


def test_a_rerun_from_another_environment_runs_there(on_default, staging, monkeypatch):
    from invocations.invoking import lifecycle

    monkeypatch.setattr(lifecycle, "enqueue", lambda pk: True)  # the broker is not under test
    previous = staging_objects(staging)["invocation"]

    on_default.post(reverse("invocation-rerun", args=[previous.pk]))

    rerun = Invocation.objects.get(rerun_of=previous)
    assert rerun.environment == staging


def test_switching_environment_on_a_detail_page_goes_to_the_matching_list(on_default, staging):
    objects = staging_objects(staging)
    cases = {
        reverse("group", args=[objects["group"].pk]): reverse("triage"),
        reverse("invocation", args=[objects["invocation"].pk]): reverse("invocations"),
        reverse("record", args=[objects["record"].pk]): reverse("records"),
        reverse("function", args=["orders"]) + "?env=staging": reverse("functions"),
        reverse("replay-batch", args=[objects["batch"].pk]): reverse("triage"),
        reverse("records") + "?env=staging&kind=dlq": reverse("records") + "?kind=dlq",
    }

    for detail, listing in cases.items():
        answer = on_default.post(
            reverse("environment-switch"), {"environment": staging.pk, "next": detail}
        )

        assert answer.status_code == 302
        assert answer.url == listing, detail


def test_an_unknown_object_is_still_a_404(on_default, staging):
    assert on_default.get(reverse("group", args=[999])).status_code == 404
    assert on_default.get(reverse("function", args=["nowhere"])).status_code == 404


def test_people_without_the_viewer_role_see_no_environment(client, charlie, staging):
    group = staging_objects(staging)["group"]
    client.force_login(charlie)

    assert client.get(reverse("group", args=[group.pk])).status_code in {403, 404}
