"""Exports of the triage, records and invocations lists: their filters, CSV cells a spreadsheet
will not run, secrets redacted, and an audit event for each."""

import csv
import io
import json
import re

import pytest

from invocations.failures import grouping
from invocations.lists import exports
from invocations.models import AuditEvent, ExecutionRecord, Invocation
from tests import factories

pytestmark = pytest.mark.django_db


def _body(response) -> str:
    return b"".join(response.streaming_content).decode()


def test_formula_cells_are_neutralised():
    assert exports.neutralise("=HYPERLINK(1)") == "'=HYPERLINK(1)"
    for start in "+-@\t\r":
        assert exports.neutralise(f"{start}x").startswith("'")
    assert exports.neutralise("plain -1") == "plain -1"


def test_records_csv_has_the_filters_and_neutralised_cells(client, bob):
    hostile = factories.failure_record(function="orders", message="=cmd|' /C calc'!A0")
    factories.failure_record(function="billing")
    client.force_login(bob)

    response = client.get("/export/records.csv", {"q": "function:orders"})

    assert response.status_code == 200
    assert response["Content-Disposition"].startswith('attachment; filename="records-')
    rows = list(csv.DictReader(io.StringIO(_body(response))))
    assert [int(r["id"]) for r in rows] == [hostile.pk]
    assert rows[0]["error_message"] == "'=cmd|' /C calc'!A0"
    event = AuditEvent.objects.get(action="records.export")
    assert event.actor == bob
    assert event.details["count"] == 1 and "function%3Aorders" in event.details["filters"]


def test_records_json_lines_redact_secrets_for_people_without_raw_access(client, bob):
    factories.failure_record(payload={"order": 1, "api_key": "s3cret"})
    client.force_login(bob)

    body = _body(client.get("/export/records.jsonl"))

    (row,) = [json.loads(line) for line in body.splitlines()]
    assert row["request_payload"] == {"order": 1, "api_key": "[redacted]"}
    assert "s3cret" not in body


def test_error_texts_are_redacted_in_exports_as_on_the_pages(client, bob):
    record = factories.failure_record(message="login failed: password=hunter2 for alice")
    grouping.group_records([record])
    client.force_login(bob)

    bodies = [
        _body(client.get(f"/export/{name}.{fmt}"))
        for name in ("records", "triage")
        for fmt in ("csv", "jsonl")
    ]

    assert all("hunter2" not in body for body in bodies)
    assert all("password=" in body for body in bodies)


def test_selected_records_and_all_matching_export_the_right_rows(client, bob):
    watched = factories.queue(function="orders")
    mine = [factories.failure_record(function="orders", watched=watched) for _ in range(3)]
    factories.failure_record(function="billing")
    client.force_login(bob)

    chosen = client.get("/export/records.jsonl", {"records": [mine[0].pk, mine[2].pk]})
    everything = client.get(
        "/export/records.jsonl",
        {"all": "1", "matching": "q=function%3Aorders", "records": [mine[0].pk]},
    )

    assert {json.loads(x)["id"] for x in _body(chosen).splitlines()} == {mine[0].pk, mine[2].pk}
    assert {json.loads(x)["id"] for x in _body(everything).splitlines()} == {r.pk for r in mine}


def test_triage_and_invocations_export_with_their_filters(client, bob):
    orders = factories.failure_record(function="orders")
    billing = factories.failure_record(function="billing", error_type="KeyError")
    grouping.group_records([orders, billing])
    env = orders.environment
    Invocation.objects.create(environment=env, function_name="orders", status="failed")
    Invocation.objects.create(environment=env, function_name="billing", status="succeeded")
    client.force_login(bob)

    groups = list(
        csv.DictReader(io.StringIO(_body(client.get("/export/triage.csv?q=error:KeyError"))))
    )
    invocations = _body(client.get("/export/invocations.jsonl?q=is:failed")).splitlines()

    assert [g["function_name"] for g in groups] == ["billing"]
    assert [json.loads(i)["function_name"] for i in invocations] == ["orders"]
    assert set(
        AuditEvent.objects.filter(action__endswith=".export").values_list("action", flat=True)
    ) == {
        "triage.export",
        "invocations.export",
    }


def test_an_unknown_list_or_format_is_a_404(client, bob):
    client.force_login(bob)

    assert client.get("/export/users.csv").status_code == 404
    assert client.get("/export/records.xlsx").status_code == 404
    assert not AuditEvent.objects.filter(action__endswith=".export").exists()


def test_all_matching_goes_to_the_replay_plan(client, alice):
    watched = factories.queue(function="orders")
    mine = [factories.failure_record(function="orders", watched=watched) for _ in range(3)]
    factories.failure_record(function="billing")
    client.force_login(alice)

    response = client.get(
        "/replay/", {"all": "1", "matching": "q=function%3Aorders", "records": [mine[0].pk]}
    )

    assert response.status_code == 200
    # The whole number on the replay button: "3 record" alone would also match "13 records".
    assert re.findall(r">Replay (\d+) records?</button>", response.content.decode()) == ["3"]
    assert ExecutionRecord.objects.count() == 4


def test_all_matching_dead_letters_are_offered_to_send_back_to_a_queue(client, alice):
    dead = [factories.failure_record(function="orders", kind="dlq") for _ in range(2)]
    factories.failure_record(function="orders")
    client.force_login(alice)

    response = client.get("/replay/", {"all": "1", "matching": "q=kind%3Adlq"})

    body = response.content.decode()
    assert "Send back to queue" in body
    assert f'name="records" value="{dead[0].pk},{dead[1].pk}"' in body
