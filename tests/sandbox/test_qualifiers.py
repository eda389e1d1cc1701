"""The version or alias a caller names, wherever Lambda reads it: in ``Qualifier``, after a colon
in ``FunctionName``, in a version or alias ARN, and in an event source mapping's FunctionName.

Follows "Invoke" (https://docs.aws.amazon.com/lambda/latest/api/API_Invoke.html: "Name formats"
of FunctionName, and Qualifier), "Lambda function aliases"
(https://docs.aws.amazon.com/lambda/latest/dg/configuration-aliases.html) and "Using the Lambda
context object to retrieve Python function information"
(https://docs.aws.amazon.com/lambda/latest/dg/python-context.html: invoked_function_arn).
"""

import json

import pytest

from tests.sandbox.helpers import invoke, record_for, wait_for_log_line, wait_for_message

pytestmark = [pytest.mark.sandbox, pytest.mark.timeout(60)]

REPORTER = (
    "import json, os\n\n"
    "def lambda_handler(event, context):\n"
    "    answer = {'arn': context.invoked_function_arn,\n"
    "              'version': os.environ['AWS_LAMBDA_FUNCTION_VERSION']}\n"
    "    print('INVOKED ' + json.dumps(answer))\n"
    "    return answer\n"
)


@pytest.fixture
def aliased(awslambda, make_function):
    """A function with version 1 behind alias ``live``; returns (name, unqualified ARN)."""
    name = make_function(REPORTER)
    awslambda.publish_version(FunctionName=name)
    awslambda.create_alias(FunctionName=name, Name="live", FunctionVersion="1")
    arn = awslambda.get_function(FunctionName=name)["Configuration"]["FunctionArn"]
    return name, arn


@pytest.mark.parametrize(
    "function_name",
    ["{name}:live", "{arn}:live", "123456789012:function:{name}:live"],
    ids=["name-and-alias", "alias-arn", "partial-arn"],
)
def test_an_alias_written_in_the_function_name_reaches_the_context(
    awslambda, aliased, function_name
):
    name, arn = aliased

    response = invoke(awslambda, function_name.format(name=name, arn=arn), {})

    assert response["ExecutedVersion"] == "1"
    assert json.loads(response["Payload"]) == {"arn": f"{arn}:live", "version": "1"}


def test_a_version_arn_runs_that_version(awslambda, aliased):
    name, arn = aliased

    response = invoke(awslambda, f"{arn}:1", {})

    assert json.loads(response["Payload"]) == {"arn": f"{arn}:1", "version": "1"}


def test_a_qualifier_that_contradicts_the_function_name_is_refused(awslambda, aliased):
    name, _ = aliased

    with pytest.raises(awslambda.exceptions.InvalidParameterValueException) as refused:
        invoke(awslambda, f"{name}:live", {}, Qualifier="1")

    assert "does not match" in str(refused.value)


def test_the_same_qualifier_twice_is_accepted(awslambda, aliased):
    name, arn = aliased

    response = invoke(awslambda, f"{name}:live", {}, Qualifier="live")

    assert json.loads(response["Payload"])["arn"] == f"{arn}:live"


def test_an_event_source_mapping_on_an_alias_invokes_through_the_alias(
    awslambda, sqs, aliased, logs
):
    name, arn = aliased
    url = sqs.create_queue(QueueName=f"{name}-input")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]

    mapping = awslambda.create_event_source_mapping(
        FunctionName=f"{arn}:live", EventSourceArn=queue_arn, BatchSize=1
    )
    sqs.send_message(QueueUrl=url, MessageBody="{}")

    assert mapping["FunctionArn"] == f"{arn}:live"
    invoked = wait_for_log_line(logs, name, "INVOKED ")
    assert json.loads(invoked.split("INVOKED ", 1)[1]) == {"arn": f"{arn}:live", "version": "1"}


def test_a_version_or_alias_has_its_own_asynchronous_invocation_configuration(
    awslambda, sqs, aliased
):
    """ "PutFunctionEventInvokeConfig": configures a function, version, or alias
    (https://docs.aws.amazon.com/lambda/latest/api/API_PutFunctionEventInvokeConfig.html)."""
    name, arn = aliased
    queues = {}
    for kind in ("function", "alias"):
        url = sqs.create_queue(QueueName=f"{name}-{kind}")["QueueUrl"]
        attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
        queues[kind] = attributes["Attributes"]["QueueArn"]
    awslambda.put_function_event_invoke_config(
        FunctionName=name, DestinationConfig={"OnSuccess": {"Destination": queues["function"]}}
    )
    awslambda.put_function_event_invoke_config(
        FunctionName=name,
        Qualifier="live",
        MaximumRetryAttempts=1,
        DestinationConfig={"OnSuccess": {"Destination": queues["alias"]}},
    )

    through_alias = invoke(awslambda, f"{name}:live", {}, InvocationType="Event")
    unqualified = invoke(awslambda, name, {}, InvocationType="Event")

    alias_record = json.loads(
        wait_for_message(sqs, f"{name}-alias", record_for(through_alias["RequestId"]))["Body"]
    )
    function_record = json.loads(
        wait_for_message(sqs, f"{name}-function", record_for(unqualified["RequestId"]))["Body"]
    )
    assert alias_record["responsePayload"]["arn"] == f"{arn}:live"
    assert function_record["responsePayload"]["arn"] == arn
    alias_config = awslambda.get_function_event_invoke_config(FunctionName=name, Qualifier="live")
    assert alias_config["FunctionArn"] == f"{arn}:live"
    assert alias_config["MaximumRetryAttempts"] == 1
    listed = awslambda.list_function_event_invoke_configs(FunctionName=name)
    assert len(listed["FunctionEventInvokeConfigs"]) == 2
    with pytest.raises(awslambda.exceptions.ResourceNotFoundException):
        awslambda.get_function_event_invoke_config(FunctionName=name, Qualifier="1")
