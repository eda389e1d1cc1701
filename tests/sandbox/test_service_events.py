"""SNS, S3 and EventBridge invoke a function asynchronously, through the same queue as an
``Event`` invoke: retries, destinations and the dead-letter queue apply, and the function
receives the event each service documents.

Follows "Invoking a Lambda function asynchronously" (services that invoke asynchronously: S3,
SNS, EventBridge; https://docs.aws.amazon.com/lambda/latest/dg/invocation-async.html),
"Invoking Lambda functions with Amazon SNS notifications"
(https://docs.aws.amazon.com/lambda/latest/dg/with-sns.html), "Process Amazon S3 event
notifications with Lambda" (https://docs.aws.amazon.com/lambda/latest/dg/with-s3.html) with S3's
"Event message structure"
(https://docs.aws.amazon.com/AmazonS3/latest/userguide/notification-content-structure.html),
and "Amazon EventBridge events"
(https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-events-structure.html).
"""

import json
import re
import uuid

import pytest

from tests.sandbox.helpers import wait_for_message

pytestmark = [pytest.mark.sandbox, pytest.mark.timeout(60)]

HANDLER = (
    "def lambda_handler(event, context):\n"
    "    text = str(event)\n"
    "    if 'please fail' in text:\n"
    "        raise RuntimeError('asked to fail')\n"
    "    return {'request_id': context.aws_request_id}\n"
)
ISO_SECONDS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


def queue_arn(sqs, url: str) -> str:
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
    return attributes["Attributes"]["QueueArn"]


@pytest.fixture
def destinations(sqs):
    """Fresh OnSuccess, OnFailure and dead-letter queues: {kind: (name, arn)}."""
    suffix = uuid.uuid4().hex[:8]
    created = {}
    for kind in ("success", "failure", "dlq"):
        name = f"svc-{kind}-{suffix}"
        url = sqs.create_queue(QueueName=name)["QueueUrl"]
        created[kind] = (name, queue_arn(sqs, url))
    return created


@pytest.fixture
def function(awslambda, make_function, destinations):
    """A function with destinations, a dead-letter queue and one retry; returns its ARN."""
    name = make_function(HANDLER, DeadLetterConfig={"TargetArn": destinations["dlq"][1]})
    awslambda.put_function_event_invoke_config(
        FunctionName=name,
        MaximumRetryAttempts=1,
        DestinationConfig={
            "OnSuccess": {"Destination": destinations["success"][1]},
            "OnFailure": {"Destination": destinations["failure"][1]},
        },
    )
    return awslambda.get_function(FunctionName=name)["Configuration"]["FunctionArn"]


def payload_matches(predicate):
    """Matches a destination record whose request payload satisfies ``predicate``."""

    def matches(message) -> bool:
        return predicate(json.loads(message["Body"]).get("requestPayload") or {})

    return matches


def test_an_sns_notification_reaches_the_function_in_snss_event(
    aws_client, sqs, function, destinations
):
    sns = aws_client("sns")
    topic = sns.create_topic(Name=f"svc-topic-{uuid.uuid4().hex[:8]}")["TopicArn"]
    subscription = sns.subscribe(TopicArn=topic, Protocol="lambda", Endpoint=function)

    published = sns.publish(
        TopicArn=topic,
        Message="hello",
        Subject="greeting",
        MessageAttributes={"kind": {"DataType": "String", "StringValue": "test"}},
    )

    message = wait_for_message(
        sqs,
        destinations["success"][0],
        payload_matches(lambda p: p["Records"][0]["Sns"]["MessageId"] == published["MessageId"]),
    )
    record = json.loads(message["Body"])
    assert record["requestContext"]["condition"] == "Success"
    event = record["requestPayload"]["Records"][0]
    assert event["EventSource"] == "aws:sns"
    assert event["EventVersion"] == "1.0"
    assert event["EventSubscriptionArn"] == subscription["SubscriptionArn"]
    sns_part = event["Sns"]
    assert (sns_part["Type"], sns_part["TopicArn"]) == ("Notification", topic)
    assert (sns_part["Message"], sns_part["Subject"]) == ("hello", "greeting")
    assert sns_part["MessageAttributes"] == {"kind": {"Type": "String", "Value": "test"}}
    assert sns_part["Signature"] and sns_part["SigningCertUrl"].startswith("https://")


def test_a_failing_sns_event_is_retried_then_reaches_on_failure_and_the_dead_letter_queue(
    aws_client, sqs, function, destinations
):
    sns = aws_client("sns")
    topic = sns.create_topic(Name=f"svc-topic-{uuid.uuid4().hex[:8]}")["TopicArn"]
    sns.subscribe(TopicArn=topic, Protocol="lambda", Endpoint=function)

    published = sns.publish(TopicArn=topic, Message="please fail")

    def is_ours(payload) -> bool:
        return payload["Records"][0]["Sns"]["MessageId"] == published["MessageId"]

    failure = wait_for_message(sqs, destinations["failure"][0], payload_matches(is_ours))
    record = json.loads(failure["Body"])
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 2
    assert record["responsePayload"]["errorMessage"] == "asked to fail"
    dead_letter = wait_for_message(
        sqs, destinations["dlq"][0], lambda m: is_ours(json.loads(m["Body"]))
    )
    attributes = dead_letter["MessageAttributes"]
    assert attributes["RequestID"]["StringValue"] == record["requestContext"]["requestId"]
    assert attributes["ErrorMessage"]["StringValue"] == "asked to fail"


def test_an_s3_notification_reaches_the_function_asynchronously(
    aws_client, sqs, function, destinations
):
    s3 = aws_client("s3")
    bucket = f"svc-bucket-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_notification_configuration(
        Bucket=bucket,
        NotificationConfiguration={
            "LambdaFunctionConfigurations": [
                {"Id": "uploads", "LambdaFunctionArn": function, "Events": ["s3:ObjectCreated:*"]}
            ]
        },
    )

    s3.put_object(Bucket=bucket, Key="reports/one two.txt", Body=b"12345")

    message = wait_for_message(
        sqs,
        destinations["success"][0],
        payload_matches(lambda p: p["Records"][0]["s3"]["bucket"]["name"] == bucket),
    )
    event = json.loads(message["Body"])["requestPayload"]["Records"][0]
    assert (event["eventSource"], event["eventName"]) == ("aws:s3", "ObjectCreated:Put")
    s3_part = event["s3"]
    assert s3_part["configurationId"] == "uploads"
    assert s3_part["bucket"]["arn"] == f"arn:aws:s3:::{bucket}"
    assert s3_part["object"]["key"] == "reports/one+two.txt"  # URL-encoded, as S3 sends it
    assert s3_part["object"]["size"] == 5


def test_an_eventbridge_rule_invokes_its_lambda_target_asynchronously(
    aws_client, sqs, function, destinations
):
    events = aws_client("events")
    source = f"svc.{uuid.uuid4().hex[:8]}"
    rule = events.put_rule(
        Name=f"svc-rule-{source[4:]}", EventPattern=json.dumps({"source": [source]})
    )
    events.put_targets(Rule=f"svc-rule-{source[4:]}", Targets=[{"Id": "fn", "Arn": function}])

    answer = events.put_events(
        Entries=[{"Source": source, "DetailType": "Order placed", "Detail": '{"order": 7}'}]
    )

    assert answer["FailedEntryCount"] == 0
    message = wait_for_message(
        sqs, destinations["success"][0], payload_matches(lambda p: p.get("source") == source)
    )
    event = json.loads(message["Body"])["requestPayload"]
    assert list(event) == [
        "version",
        "id",
        "detail-type",
        "source",
        "account",
        "time",
        "region",
        "resources",
        "detail",
    ]
    assert event["id"] == answer["Entries"][0]["EventId"]
    assert (event["detail-type"], event["detail"]) == ("Order placed", {"order": 7})
    assert (event["account"], event["region"]) == ("123456789012", "us-east-1")
    assert ISO_SECONDS.match(event["time"])
    assert rule["RuleArn"].endswith(f"rule/svc-rule-{source[4:]}")


def test_an_eventbridge_target_with_constant_input_sends_that_input(
    aws_client, sqs, function, destinations
):
    events = aws_client("events")
    marker = uuid.uuid4().hex
    name = f"svc-rule-{marker[:8]}"
    events.put_rule(Name=name, EventPattern=json.dumps({"source": [f"svc.{marker}"]}))
    events.put_targets(
        Rule=name, Targets=[{"Id": "fn", "Arn": function, "Input": json.dumps({"m": marker})}]
    )

    events.put_events(Entries=[{"Source": f"svc.{marker}", "DetailType": "x", "Detail": "{}"}])

    message = wait_for_message(
        sqs, destinations["success"][0], payload_matches(lambda p: p.get("m") == marker)
    )
    assert json.loads(message["Body"])["requestPayload"] == {"m": marker}
