"""Input an attacker or a careless user sends: every one is a form error, an ignored filter
that the page names, or a 404, never a 500.

The test client re-raises a view's exception, so a 500 fails these tests with its traceback."""

import pytest
from django.urls import reverse
from django.utils import timezone
from moto import mock_aws

from invocations import aws
from invocations.failures import grouping
from invocations.invoking import inventory, lifecycle
from invocations.models import (
    Environment,
    FailureGroup,
    Function,
    Invocation,
    PayloadTemplate,
    ReplayBatch,
)
from tests import factories

BEYOND_BIGINT = str(2**64)
DEEP = "[" * 10_000 + "]" * 10_000
LONG_INTEGER = '{"n": ' + "7" * 5_000 + "}"


@pytest.fixture
def env(db):
    return Environment.objects.default()


@pytest.fixture
def hello(env):
    return Function.objects.create(environment=env, name="hello", runtime="python3.11")


# A stored lone surrogate is shown, not a 500.


@pytest.mark.parametrize("role", ["alice", "bob"])
def test_an_invocation_with_a_lone_surrogate_in_its_payloads_is_shown(client, env, role, request):
    user = request.getfixturevalue(role)
    invocation = Invocation.objects.create(
        environment=env,
        function_name="hello",
        status="function_error",
        payload='{"name": "\\ud800", "password": "\\udfff"}',
        response_payload='"\\udc00 tail"',
    )
    client.force_login(user)

    page = client.get(reverse("invocation", args=[invocation.pk]))

    assert page.status_code == 200
    assert "tail" in page.text


def test_a_function_error_naming_lone_surrogates_is_stored_as_valid_text():
    answer = aws.InvokeResult(
        status_code=200,
        function_error="Unhandled",
        payload=b'{"errorType": "Bad\\ud800", "errorMessage": "oh \\udfff no\\u0000"}',
        payload_truncated=False,
        log_result="",
        executed_version="$LATEST",
        request_id="r-1",
    )

    fields = lifecycle.outcome_fields("RequestResponse", answer)

    for key in ("error_code", "error_text"):
        fields[key].encode("utf-8")  # PostgreSQL refuses text that UTF-8 cannot encode
        assert "\x00" not in fields[key]
    assert fields["error_code"].startswith("Bad")
    assert "no" in fields["error_text"]


# JSON that Python can parse but nothing should accept: form errors with a clear message.

BAD_JSON = {
    "deep": (DEEP, "nested"),
    "long-integer": (LONG_INTEGER, "digits"),
    "nan": ('{"x": NaN}', "NaN"),
    "infinity": ("[Infinity]", "Infinity"),
    "minus-infinity": ("-Infinity", "Infinity"),
    "overflowing-float": ("[1e999]", "out of range"),
}


@pytest.mark.parametrize("case", sorted(BAD_JSON))
def test_the_invoke_form_refuses_json_lambda_would_not_take(client, alice, hello, case):
    payload, reason = BAD_JSON[case]
    client.force_login(alice)

    response = client.post(
        reverse("function-invoke", args=["hello"]),
        {"payload": payload, "invocation_type": "RequestResponse", "qualifier": "$LATEST"},
    )

    assert response.status_code == 400
    assert reason in response.context["form"].errors["payload"][0]
    assert Invocation.objects.count() == 0


@pytest.mark.parametrize("case", sorted(BAD_JSON))
def test_the_template_form_refuses_the_same_json(client, alice, hello, case):
    payload, reason = BAD_JSON[case]
    client.force_login(alice)

    response = client.post(
        reverse("template-save", args=["hello"]), {"name": "t", "payload": payload}
    )

    assert response.status_code == 400
    assert reason in response.context["template_form"].errors["payload"][0]
    assert PayloadTemplate.objects.count() == 0


@pytest.mark.parametrize("case", sorted(BAD_JSON))
def test_an_edited_replay_payload_is_refused_the_same_way(client, alice, env, case):
    payload, reason = BAD_JSON[case]
    record = factories.failure_record(function="hello")
    client.force_login(alice)

    response = client.post(
        reverse("replay-start"), {"records": str(record.pk), "payload": payload}, follow=True
    )

    assert response.status_code == 200
    assert any(reason in str(m) for m in response.context["messages"])
    assert ReplayBatch.objects.count() == 0


# Crafted query strings and ids.


def test_a_day_at_the_end_of_the_calendar_is_a_named_ignored_filter(client, bob, env):
    Invocation.objects.create(environment=env, function_name="hello", status="succeeded")
    client.force_login(bob)

    page = client.get(reverse("invocations"), {"date": "9999-12-31", "function": "hello"})

    assert page.status_code == 200
    assert [f["value"] for f in page.context["ignored_filters"]] == ["9999-12-31"]
    assert "Ignored the filter" in page.text
    assert page.context["invocations"][0].function_name == "hello"


def test_an_invocation_page_cursor_beyond_any_id_is_ignored(client, bob, env):
    Invocation.objects.create(environment=env, function_name="hello", status="succeeded")
    client.force_login(bob)

    page = client.get(reverse("invocations"), {"before": BEYOND_BIGINT})

    assert page.status_code == 200
    assert [f["value"] for f in page.context["ignored_filters"]] == [BEYOND_BIGINT]
    assert len(page.context["invocations"]) == 1


def _group(env):
    now = timezone.now()
    return FailureGroup.objects.create(
        environment=env,
        fingerprint="f" * 64,
        function_name="hello",
        error_class="ValueError",
        first_seen=now,
        last_seen=now,
    )


@pytest.mark.parametrize(
    "before", ["2024-13-45T00:00:00", "2024-02-30T10:00", "2024-01-01T00:00:00", "junk"]
)
def test_a_group_page_with_an_invalid_or_naive_cursor_shows_the_first_page(
    client, bob, env, before
):
    record = factories.failure_record(function="hello")
    grouping.group_records([record])
    group = record.failure_group
    client.force_login(bob)

    page = client.get(reverse("group", args=[group.pk]), {"before": before})

    assert page.status_code == 200
    if before != "2024-01-01T00:00:00":  # a valid day (as UTC) before the record: nothing
        assert [item.pk for _, _, item in page.context["occurrences"]] == [record.pk]


@pytest.mark.parametrize("name", ["invocation", "record", "group", "replay-batch", "queue-depth"])
def test_an_id_in_the_path_beyond_any_id_is_a_404(client, bob, env, name):
    client.force_login(bob)

    response = client.get(reverse(name, args=[BEYOND_BIGINT]))

    assert response.status_code == 404


def test_a_replay_of_ids_beyond_any_id_is_a_form_error(client, alice, env):
    factories.failure_record(function="hello")
    client.force_login(alice)

    plan = client.get(reverse("replay-plan"), {"records": BEYOND_BIGINT})
    plan_group = client.get(reverse("replay-plan"), {"group": BEYOND_BIGINT})
    start = client.post(reverse("replay-start"), {"records": BEYOND_BIGINT})
    redrive = client.post(
        reverse("redrive"), {"records": BEYOND_BIGINT, "queue_url": "https://sqs.example/1/q"}
    )

    assert plan.status_code in (200, 302)
    assert plan_group.status_code in (302, 404)
    assert start.status_code == 302
    assert redrive.status_code == 302
    assert ReplayBatch.objects.count() == 0


def test_a_bulk_action_on_ids_beyond_any_id_is_a_form_error(client, alice, env):
    group = _group(env)
    client.force_login(alice)

    response = client.post(
        reverse("groups-bulk"),
        {"groups": [str(group.pk), BEYOND_BIGINT], "action": "acknowledged"},
        follow=True,
    )

    assert response.status_code == 200
    assert FailureGroup.objects.get().status == "open"


@pytest.mark.parametrize("value", ["abc", BEYOND_BIGINT, "", "-1"])
def test_switching_to_an_environment_that_is_not_a_number_is_a_404(client, bob, env, value):
    client.force_login(bob)

    response = client.post(reverse("environment-switch"), {"environment": value})

    assert response.status_code == 404


def test_a_qualifier_longer_than_lambda_allows_is_a_form_error(client, alice, hello):
    client.force_login(alice)

    response = client.post(
        reverse("function-invoke", args=["hello"]),
        {"payload": "{}", "invocation_type": "RequestResponse", "qualifier": "v" * 129},
    )

    assert response.status_code == 400
    assert "qualifier" in response.context["form"].errors
    assert Invocation.objects.count() == 0


def test_a_replay_qualifier_must_be_one_lambda_accepts(client, alice, env):
    record = factories.failure_record(function="hello")
    client.force_login(alice)

    response = client.post(
        reverse("replay-start"), {"records": str(record.pk), "qualifier": "v1/../x"}, follow=True
    )

    assert any("qualifier" in str(m).lower() for m in response.context["messages"])
    assert ReplayBatch.objects.count() == 0


@pytest.fixture
def moto_env(env):
    with mock_aws():
        env.endpoint_url = ""
        env.save()
        aws.reset_clients()
        yield env
    aws.reset_clients()


def _create_function(name):
    import io
    import zipfile

    import boto3

    role = boto3.client("iam", region_name="us-east-1").create_role(
        RoleName=f"role-{len(name)}", AssumeRolePolicyDocument="{}"
    )["Role"]["Arn"]
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as archive:
        archive.writestr("h.py", "def h(event, context):\n    return 1\n")
    boto3.client("lambda", region_name="us-east-1").create_function(
        FunctionName=name,
        Runtime="python3.11",
        Role=role,
        Handler="h.h",
        Code={"ZipFile": code.getvalue()},
    )


def test_a_function_name_lambda_would_refuse_is_left_out_of_the_inventory_with_a_reason(
    client, bob, moto_env
):
    _create_function("hello")
    _create_function("evil/../name")
    Function.objects.create(environment=moto_env, name="stale/name")  # from an older sync

    errors = inventory.sync(moto_env)
    client.force_login(bob)
    page = client.get(reverse("functions"))

    assert page.status_code == 200
    assert "hello" in page.text
    assert any("evil/../name" in error and "not a valid" in error for error in errors)
    assert set(Function.objects.filter(present=True).values_list("name", flat=True)) == {"hello"}


@pytest.mark.parametrize("before", ["²", BEYOND_BIGINT])
def test_the_deliveries_page_ignores_a_cursor_that_is_not_an_id(client, bob, env, before):
    client.force_login(bob)

    response = client.get(reverse("alert-deliveries"), {"before": before})

    assert response.status_code == 200


@pytest.mark.parametrize("back", ["²", "١٢", BEYOND_BIGINT])
def test_an_empty_replay_selection_goes_back_safely_whatever_back_says(client, alice, env, back):
    client.force_login(alice)

    response = client.get(reverse("replay-plan"), {"records": "", "back": back})

    assert response.status_code == 302


def test_a_returned_dead_letter_naming_no_id_we_sent_is_not_ours():
    from invocations.ingest import redrive

    for value in ["prod:²", "prod:", "prod:12a", ":12"]:
        attributes = {redrive.ORIGIN_ATTRIBUTE: {"StringValue": value, "DataType": "String"}}

        assert redrive.origin_of(attributes) is None
