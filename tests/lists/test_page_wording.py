"""Wording and layout a new user met: the replay plan's payload label, the Deliveries page's
events in words, and a stream failure's group title."""

import re
from pathlib import Path

import pytest
from django.contrib.staticfiles import finders
from django.urls import reverse

from invocations.failures import grouping
from invocations.models import Environment, ExecutionRecord, FailureGroup
from tests import factories


@pytest.fixture
def env(db):
    return Environment.objects.default()


def test_the_replay_plans_payload_label_sits_above_its_textarea(client, admin_user, env):
    record = factories.failure_record()
    client.force_login(admin_user)  # editing a payload takes the raw-payload permission

    page = client.get(reverse("replay-plan") + f"?records={record.pk}").text

    field = re.search(r'<div class="form-field payload-field">(.*?)</div>', page, re.S)
    assert field is not None
    markup = field.group(1)
    assert 0 <= markup.find('<label for="id_payload">') < markup.find('<textarea name="payload"')
    css = Path(finders.find("css/app.css")).read_text()
    assert re.search(r"\.form-field \{[^}]*display: grid", css)  # one column: label, then box


def test_a_stream_failures_group_is_titled_from_its_stream_and_condition(client, alice, env):
    record = factories.failure_record(
        function="stream-reader",
        kind=ExecutionRecord.Kind.STREAM_FAILURE,
        condition="RetryAttemptsExhausted",
        error_type="",
        message="",
    )
    ExecutionRecord.objects.filter(pk=record.pk).update(
        batch_info={"KinesisBatchInfo": {"shardId": "shardId-000000000000", "batchSize": 2}}
    )
    record.refresh_from_db()
    grouping.group_records([record])
    client.force_login(alice)

    group = FailureGroup.objects.get()
    page = client.get(reverse("group", args=[group.pk])).text
    triage_page = client.get(reverse("triage")).text

    assert "<h1>Kinesis batch failed: RetryAttemptsExhausted" in page
    assert "Kinesis batch failed: RetryAttemptsExhausted" in triage_page
