"""The sample functions that show module state and event source mappings in `make run`."""

import json
import time

import pytest

from tests.sandbox.helpers import invoke, queue_url

pytestmark = [pytest.mark.sandbox, pytest.mark.timeout(60)]


def test_warm_counter_counts_per_execution_environment(awslambda):
    first = json.loads(invoke(awslambda, "warm-counter", {"key": "pets"})["Payload"])
    second = json.loads(invoke(awslambda, "warm-counter", {"key": "pets"})["Payload"])

    # One call after the other: the second finds the first's environment warm, with its module.
    assert second["environment"] == first["environment"]
    assert second["invocations"] == first["invocations"] + 1
    assert second["cache_hit"] is True
    assert first["value"] == second["value"]


def test_the_seed_maps_the_queue_and_the_stream_to_their_functions(awslambda):
    mappings = {
        mapping["FunctionArn"].rsplit(":", 1)[-1]: mapping
        for name in ("queue-worker", "stream-reader")
        for mapping in awslambda.list_event_source_mappings(FunctionName=name)[
            "EventSourceMappings"
        ]
    }

    worker = mappings["queue-worker"]
    assert worker["EventSourceArn"].endswith(":queue-worker-input")
    assert worker["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    reader = mappings["stream-reader"]
    assert reader["EventSourceArn"].endswith(":stream/stream-reader-input")
    assert reader["BisectBatchOnFunctionError"] is True
    assert reader["DestinationConfig"]["OnFailure"]["Destination"].endswith(
        ":stream-reader-on-failure"
    )


def test_queue_worker_consumes_a_good_message(sqs, logs):
    url = queue_url(sqs, "queue-worker-input")
    started = int(time.time() * 1000)

    message_id = sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"quantity": 2}))[
        "MessageId"
    ]

    deadline = time.monotonic() + 20
    while True:
        events = (
            logs.filter_log_events(
                logGroupName="/aws/lambda/queue-worker",
                startTime=started,
                filterPattern="processed",
            )["events"]
            if _has_log_group(logs)
            else []
        )
        if any("processed 1 of 1 messages" in event["message"] for event in events):
            break
        assert time.monotonic() < deadline, f"queue-worker did not process {message_id}"
        time.sleep(0.2)


def _has_log_group(logs) -> bool:
    groups = logs.describe_log_groups(logGroupNamePrefix="/aws/lambda/queue-worker")["logGroups"]
    return bool(groups)
