"""Redaction runs once, when a text arrives: a Viewer's pages and exports read the stored copies
and redact nothing themselves."""

import json

import pytest

from invocations.access import redaction
from invocations.access.actor import Actor
from invocations.failures import grouping
from invocations.models import FailureGroup, Invocation
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def stored(db, admin_user):
    record = factories.failure_record(
        message="refused: password=hunter2",
        payload={"user": "ann", "password": "hunter2", "body": '{"token": "tok-1"}'},
    )
    grouping.group_records([record])
    invocation = Invocation.objects.create(
        environment=record.environment,
        function_name="orders",
        payload=json.dumps({"api_key": "k-1", "n": 1}),
        response_payload=json.dumps({"errorMessage": "bad token=tok-2"}),
        status=Invocation.Status.FUNCTION_ERROR,
        error_text="bad token=tok-2",
        log_tail="START RequestId: r-1 Version: $LATEST\nconnecting with password=tail-pw\n",
        requested_by=admin_user,
    )
    return record, invocation


def test_a_viewers_pages_and_exports_redact_nothing_as_they_are_made(
    client, bob, stored, monkeypatch
):
    record, invocation = stored
    group = FailureGroup.objects.get()
    client.force_login(bob)
    calls = []
    monkeypatch.setattr(redaction, "scan", lambda *args, **kwargs: calls.append(args))

    bodies = [
        client.get(url).content.decode()
        for url in (
            f"/records/{record.pk}/",
            "/records/",
            "/",
            f"/groups/{group.pk}/",
            f"/invocations/{invocation.pk}/",
            "/invocations/",
        )
    ]
    # (An export writes its audit event, redacted once as it is written: not counted here.)
    monkeypatch.setattr("invocations.lists.exports.audit.record", lambda *a, **k: None)
    for name in ("records", "triage", "invocations"):
        response = client.get(f"/export/{name}.jsonl")
        bodies.append(b"".join(response.streaming_content).decode())
    text = "\n".join(bodies)

    assert calls == []
    assert [s for s in ("hunter2", "tok-1", "tok-2", "k-1", "tail-pw") if s in text] == []
    assert "connecting with password=[redacted]" in text
    assert "[redacted]" in text


def test_an_admin_reads_the_raw_payloads(client, admin_user, stored):
    record, invocation = stored
    client.force_login(admin_user)

    text = client.get(f"/records/{record.pk}/").content.decode()
    text += client.get(f"/invocations/{invocation.pk}/").content.decode()

    assert "hunter2" in text and "k-1" in text


def test_the_copies_are_made_when_the_invocation_is_started_and_finished(admin_user, stored):
    _, invocation = stored

    invocation.refresh_from_db()

    assert json.loads(invocation.payload_redacted) == {"api_key": "[redacted]", "n": 1}
    assert "tok-2" not in invocation.response_payload_redacted
    assert invocation.error_text_redacted == "bad token=[redacted]"
    assert Actor.person(admin_user).user == admin_user


def test_an_operators_replay_preview_and_rerun_form_read_the_stored_copies(
    client, alice, stored, monkeypatch
):
    """The replay dry run's payloads and the invoke form filled from someone else's invocation
    (`?from=`) show the copies stored on arrival: nothing is redacted as the page is made."""
    from invocations.models import Function

    record, invocation = stored
    Function.objects.create(environment=invocation.environment, name="orders")
    client.force_login(alice)  # may replay and invoke, may not read payloads raw
    calls = []
    monkeypatch.setattr(redaction, "scan", lambda *args, **kwargs: calls.append(args))

    preview = client.get(f"/replay/?records={record.pk}").content.decode()
    rerun = client.get(f"/functions/orders/?from={invocation.pk}").content.decode()

    assert calls == []
    assert "hunter2" not in preview and "tok-1" not in preview
    assert "[redacted]" in preview
    assert "k-1" not in rerun
    assert "api_key" in rerun and "[redacted]" in rerun
