"""What the sandbox does not emulate is refused with a clear error, never run differently.

Follows "Control which events Lambda sends to your function" (FilterCriteria,
https://docs.aws.amazon.com/lambda/latest/dg/invocation-eventfiltering.html), "Using tumbling
windows" and "ParallelizationFactor" in "CreateEventSourceMapping"
(https://docs.aws.amazon.com/lambda/latest/api/API_CreateEventSourceMapping.html), and
"Create a Lambda function using a container image"
(https://docs.aws.amazon.com/lambda/latest/dg/images-create.html).
"""

import json
import uuid

import pytest

from tests.sandbox.conftest import ROLE_ARN
from tests.sandbox.helpers import invoke

pytestmark = [pytest.mark.sandbox, pytest.mark.timeout(60)]

HANDLER = "def lambda_handler(event, context):\n    return 'ran'\n"


@pytest.fixture
def queue_arn(sqs):
    url = sqs.create_queue(QueueName=f"refused-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
    return attributes["Attributes"]["QueueArn"]


def test_a_mapping_with_filter_criteria_is_refused(awslambda, make_function, queue_arn):
    name = make_function(HANDLER)

    with pytest.raises(awslambda.exceptions.InvalidParameterValueException) as refused:
        awslambda.create_event_source_mapping(
            FunctionName=name,
            EventSourceArn=queue_arn,
            FilterCriteria={"Filters": [{"Pattern": json.dumps({"body": {"kind": ["order"]}})}]},
        )

    assert "FilterCriteria" in str(refused.value)
    assert awslambda.list_event_source_mappings(FunctionName=name)["EventSourceMappings"] == []


def test_a_mapping_updated_to_a_tumbling_window_is_refused(aws_client, awslambda, make_function):
    kinesis = aws_client("kinesis")
    name = make_function(HANDLER)
    stream = f"refused-{uuid.uuid4().hex[:8]}"
    kinesis.create_stream(StreamName=stream, ShardCount=1)
    arn = kinesis.describe_stream_summary(StreamName=stream)["StreamDescriptionSummary"][
        "StreamARN"
    ]
    mapping = awslambda.create_event_source_mapping(
        FunctionName=name, EventSourceArn=arn, StartingPosition="LATEST"
    )

    with pytest.raises(awslambda.exceptions.InvalidParameterValueException) as refused:
        awslambda.update_event_source_mapping(UUID=mapping["UUID"], TumblingWindowInSeconds=60)

    assert "TumblingWindowInSeconds" in str(refused.value)


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
