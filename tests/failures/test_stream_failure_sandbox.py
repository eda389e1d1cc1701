"""End to end against the sandbox: a Kinesis-fed sample function gives up on a record, the
mapping's OnFailure queue receives Lambda's stream-failure record, discovery watches that
queue, the poller stores the record and its page shows the batch."""

import json
import re
import time
import uuid

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from invocations import aws
from invocations.access.actor import SYSTEM
from invocations.ingest import discovery, polling
from invocations.models import ExecutionRecord, WatchedQueue

pytestmark = [pytest.mark.sandbox, pytest.mark.timeout(120)]


def stream_failure_for(sequence_number: str, seconds: float = 60.0) -> ExecutionRecord:
    deadline = time.monotonic() + seconds
    while True:
        polling.poll_all(wait_seconds=0)
        for record in ExecutionRecord.objects.filter(kind="stream_failure"):
            info = (record.batch_info or {}).get("KinesisBatchInfo") or {}
            if info.get("startSequenceNumber") == sequence_number:
                return record
        assert time.monotonic() < deadline, f"no stream failure record within {seconds} s"
        time.sleep(0.3)


def test_a_discarded_kinesis_record_reaches_its_record_page_with_the_batch(
    sandbox_env, client, bob
):
    discovery.discover(sandbox_env, actor=SYSTEM)
    watched = {queue.name: queue.function_name for queue in WatchedQueue.objects.all()}
    assert watched["stream-reader-on-failure"] == "stream-reader"
    data = json.dumps({"fail": True, "marker": uuid.uuid4().hex}).encode()

    put = aws.client(sandbox_env, "kinesis").put_record(
        StreamName="stream-reader-input", Data=data, PartitionKey="orders"
    )

    record = stream_failure_for(put["SequenceNumber"])
    assert record.function_name == "stream-reader"
    assert record.condition == "RetryAttemptsExhausted"
    assert record.approximate_invoke_count == 3  # the seed's mapping allows 2 retries
    assert record.function_error == "Unhandled"
    info = record.batch_info["KinesisBatchInfo"]
    assert info["shardId"] == put["ShardId"]
    assert info["endSequenceNumber"] == put["SequenceNumber"]
    assert info["batchSize"] == 1
    assert info["streamArn"].endswith(":stream/stream-reader-input")

    client.force_login(bob)
    response = client.get(reverse("record", args=[record.pk]))

    assert response.status_code == 200
    page = response.content.decode()
    assert "Stream batch" in page
    assert "RetryAttemptsExhausted" in page
    assert "KinesisBatchInfo" in page
    assert put["ShardId"] in page
    assert "stream/stream-reader-input" in page
    logs = client.get(reverse("record-logs", args=[record.pk])).content.decode()
    # 3 attempts, each with a request ID of its own: the page says where the other 2 are.
    assert "the other 2 are in /aws/lambda/stream-reader" in logs


@pytest.mark.browser
def test_the_record_page_shows_the_stream_batch_in_a_browser(live_server, page, bob, sandbox_env):
    discovery.discover(sandbox_env, actor=SYSTEM)
    data = json.dumps({"fail": True, "marker": uuid.uuid4().hex}).encode()
    put = aws.client(sandbox_env, "kinesis").put_record(
        StreamName="stream-reader-input", Data=data, PartitionKey="browser"
    )
    record = stream_failure_for(put["SequenceNumber"])

    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Username").fill("bob")
    page.get_by_label("Password").fill("pw")
    page.get_by_role("button", name="Log in").click()
    expect(page).not_to_have_url(re.compile(r"/accounts/login/"))
    page.goto(f"{live_server.url}{reverse('record', args=[record.pk])}")

    batch = page.locator("#batch-info")
    expect(batch).to_contain_text('"KinesisBatchInfo"')
    expect(batch).to_contain_text(f'"endSequenceNumber": "{put["SequenceNumber"]}"')
    expect(batch).to_contain_text(f'"shardId": "{put["ShardId"]}"')
    expect(page.locator("h1")).to_contain_text("RetryAttemptsExhausted")
