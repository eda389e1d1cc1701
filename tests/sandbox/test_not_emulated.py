"""What the sandbox does not emulate is refused with a clear error, never run differently: a
mapping it cannot run is kept (the API answers as AWS's) but disabled, with the reason as its
StateTransitionReason.

Follows "Control which events Lambda sends to your function" (FilterCriteria,
https://docs.aws.amazon.com/lambda/latest/dg/invocation-eventfiltering.html), "Using tumbling
windows" and the mapping's State and StateTransitionReason in "CreateEventSourceMapping"
(https://docs.aws.amazon.com/lambda/latest/api/API_CreateEventSourceMapping.html), and
"Create a Lambda function using a container image"
(https://docs.aws.amazon.com/lambda/latest/dg/images-create.html).
"""

import json
import uuid

import pytest

from tests.sandbox.conftest import ROLE_ARN
from tests.sandbox.helpers import invoke
from tests.waiting import wait_until

pytestmark = [pytest.mark.sandbox, pytest.mark.timeout(60)]

HANDLER = "def lambda_handler(event, context):\n    return 'ran'\n"


def kinesis_stream(aws_client) -> str:
    kinesis = aws_client("kinesis")
    stream = f"refused-{uuid.uuid4().hex[:8]}"
    kinesis.create_stream(StreamName=stream, ShardCount=1)
    return kinesis.describe_stream_summary(StreamName=stream)["StreamDescriptionSummary"][
        "StreamARN"
    ]


def wait_for_state(awslambda, uuid_: str, state: str, timeout: float = 10.0) -> dict:
    def mapping():
        found = awslambda.get_event_source_mapping(UUID=uuid_)
        return found if found["State"] == state else None

    return wait_until(mapping, timeout, message=f"{uuid_} never {state}")


def test_a_tumbling_window_mapping_is_kept_but_disabled_with_the_reason(
    aws_client, awslambda, make_function
):
    name = make_function(HANDLER)

    mapping = awslambda.create_event_source_mapping(
        FunctionName=name,
        EventSourceArn=kinesis_stream(aws_client),
        StartingPosition="LATEST",
        TumblingWindowInSeconds=60,
    )

    disabled = wait_for_state(awslambda, mapping["UUID"], "Disabled")
    assert "tumbling windows" in disabled["StateTransitionReason"]
    assert disabled["LastProcessingResult"].startswith("PROBLEM: ")


def test_filter_criteria_on_a_stream_mapping_is_kept_but_disabled_with_the_reason(
    aws_client, awslambda, make_function
):
    name = make_function(HANDLER)

    mapping = awslambda.create_event_source_mapping(
        FunctionName=name,
        EventSourceArn=kinesis_stream(aws_client),
        StartingPosition="LATEST",
        FilterCriteria={"Filters": [{"Pattern": json.dumps({"data": {"kind": ["order"]}})}]},
    )

    disabled = wait_for_state(awslambda, mapping["UUID"], "Disabled")
    assert "FilterCriteria" in disabled["StateTransitionReason"]


def test_a_container_image_function_is_refused_when_invoked(awslambda):
    name = f"test-{uuid.uuid4().hex[:12]}"
    awslambda.create_function(
        FunctionName=name,
        Role=ROLE_ARN,
        PackageType="Image",
        Code={"ImageUri": "123456789012.dkr.ecr.us-east-1.amazonaws.com/app:latest"},
    )

    response = invoke(awslambda, name, {})

    assert response["FunctionError"] == "Unhandled"
    assert json.loads(response["Payload"])["errorType"] == "Sandbox.NotEmulated"
