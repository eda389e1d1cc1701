"""Synchronous invocations through plain boto3: what Lambda answers and logs."""

import base64
import json
import re
import time
import uuid

import pytest
from botocore.exceptions import ClientError

from tests.sandbox.helpers import invoke
from tests.waiting import wait_until

pytestmark = [pytest.mark.sandbox, pytest.mark.timeout(60)]

UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def tail_of(response) -> str:
    return base64.b64decode(response["LogResult"]).decode("utf-8", errors="replace")


def test_it_answers_with_the_handlers_result_and_the_executed_version(awslambda):
    response = invoke(awslambda, "hello", {"name": "alice"})

    assert response["StatusCode"] == 200
    assert json.loads(response["Payload"]) == {"message": "Hello, alice!", "version": "$LATEST"}
    assert response["ExecutedVersion"] == "$LATEST"
    assert "FunctionError" not in response


def test_the_tail_of_a_short_invocation_is_its_whole_log(awslambda):
    response = invoke(awslambda, "hello", {"name": "bob"}, LogType="Tail")

    lines = tail_of(response).splitlines()
    request_id = response["RequestId"]
    assert lines[0] == f"START RequestId: {request_id} Version: $LATEST"
    assert "saying hello to bob" in lines
    assert lines[-2] == f"END RequestId: {request_id}"
    report = lines[-1]
    assert report.startswith(f"REPORT RequestId: {request_id}\tDuration: ")
    assert re.search(
        r"\tBilled Duration: \d+ ms\tMemory Size: 128 MB\tMax Memory Used: \d+ MB", report
    )


def test_the_tail_is_the_last_4_kb_of_a_long_log(awslambda):
    response = invoke(awslambda, "chatty", {}, LogType="Tail")

    raw = base64.b64decode(response["LogResult"])
    text = raw.decode("utf-8", errors="replace")
    assert len(raw) == 4096
    assert not text.startswith("START RequestId")
    assert "chatty line 0200" in text
    assert "chatty line 0001" not in text
    assert text.splitlines()[-1].startswith(f"REPORT RequestId: {response['RequestId']}")


def test_no_log_result_is_sent_without_log_type_tail(awslambda):
    response = invoke(awslambda, "hello")

    assert "LogResult" not in response


def test_an_exception_answers_unhandled_with_lambdas_error_payload(awslambda):
    response = invoke(awslambda, "orders", {"order": "not a number"}, LogType="Tail")

    assert response["StatusCode"] == 200
    assert response["FunctionError"] == "Unhandled"
    error = json.loads(response["Payload"])
    assert set(error) == {"errorMessage", "errorType", "requestId", "stackTrace"}
    assert error["errorType"] == "ValueError"
    assert error["errorMessage"] == "order must be a positive integer, got 'not a number'"
    assert error["requestId"] == response["RequestId"]
    assert 'File "/var/task/lambda_function.py"' in error["stackTrace"][0]
    assert "[ERROR] ValueError: order must be a positive integer" in tail_of(response)


def test_a_handler_running_past_its_timeout_is_killed(awslambda):
    # The handler would sleep ten minutes: only a sandbox that stops it at its 2 s timeout
    # answers at all (the test client's read timeout is 30 s).
    response = invoke(awslambda, "slow", {"seconds": 600}, LogType="Tail")

    assert response["FunctionError"] == "Unhandled"
    error = json.loads(response["Payload"])
    assert error["errorType"] == "Sandbox.Timedout"
    assert error["errorMessage"] == (
        f"RequestId: {response['RequestId']} Error: Task timed out after 2.00 seconds"
    )
    log = tail_of(response)
    assert f"{response['RequestId']} Task timed out after 2.00 seconds" in log
    assert "Duration: 2000.00 ms" in log


def test_a_module_that_cannot_be_imported_answers_import_module_error(awslambda):
    response = invoke(awslambda, "broken")

    error = json.loads(response["Payload"])
    assert response["FunctionError"] == "Unhandled"
    assert error["errorType"] == "Runtime.ImportModuleError"
    assert error["errorMessage"] == (
        "Unable to import module 'lambda_function': No module named 'module_that_does_not_exist'"
    )


def test_a_missing_handler_answers_handler_not_found(awslambda, make_function):
    name = make_function("def other(event, context):\n    return 1\n")

    response = invoke(awslambda, name)

    error = json.loads(response["Payload"])
    assert error["errorType"] == "Runtime.HandlerNotFound"
    assert error["errorMessage"] == "Handler 'lambda_handler' missing on module 'lambda_function'"


def test_a_handler_that_exits_answers_exit_error(awslambda, make_function):
    name = make_function("import sys\n\ndef lambda_handler(event, context):\n    sys.exit(3)\n")

    response = invoke(awslambda, name, LogType="Tail")

    error = json.loads(response["Payload"])
    assert error["errorType"] == "Runtime.ExitError"
    assert error["errorMessage"].endswith("Runtime exited with error: exit status 3")
    assert "Runtime.ExitError" in tail_of(response)


def test_a_result_that_is_not_json_answers_marshal_error(awslambda, make_function):
    name = make_function("def lambda_handler(event, context):\n    return {1, 2}\n")

    response = invoke(awslambda, name)

    error = json.loads(response["Payload"])
    assert error["errorType"] == "Runtime.MarshalError"
    assert error["errorMessage"].startswith("Unable to marshal response: ")


def test_the_response_request_id_is_the_contexts_and_a_uuid(awslambda, make_function):
    name = make_function(
        "import os\n\n"
        "def lambda_handler(event, context):\n"
        "    return {'id': context.aws_request_id, 'name': context.function_name,\n"
        "            'memory': context.memory_limit_in_mb,\n"
        "            'left': context.get_remaining_time_in_millis(),\n"
        "            'group': context.log_group_name, 'endpoint': os.environ['AWS_ENDPOINT_URL'],\n"
        "            'key': os.environ['AWS_ACCESS_KEY_ID'], 'colour': os.environ['COLOUR']}\n",
        Environment={"Variables": {"COLOUR": "green"}},
        Timeout=7,
    )

    response = invoke(awslambda, name)

    seen = json.loads(response["Payload"])
    assert UUID.match(response["RequestId"])
    assert seen["id"] == response["RequestId"]
    assert seen["name"] == name
    assert seen["memory"] == "128"
    assert 0 < seen["left"] <= 7000
    assert seen["group"] == f"/aws/lambda/{name}"
    assert seen["endpoint"].startswith("http://127.0.0.1:")
    assert seen["key"] == "testing"
    assert seen["colour"] == "green"


def test_a_qualifier_runs_that_version_or_alias(awslambda, make_function):
    name = make_function(
        "import os\n\ndef lambda_handler(event, context):\n    return os.environ['RELEASE']\n",
        Environment={"Variables": {"RELEASE": "first"}},
    )
    awslambda.publish_version(FunctionName=name)
    awslambda.update_function_configuration(
        FunctionName=name, Environment={"Variables": {"RELEASE": "second"}}
    )
    awslambda.create_alias(FunctionName=name, Name="live", FunctionVersion="1")

    latest = invoke(awslambda, name)
    version_one = invoke(awslambda, name, Qualifier="1")
    live = invoke(awslambda, name, Qualifier="live")

    assert (json.loads(latest["Payload"]), latest["ExecutedVersion"]) == ("second", "$LATEST")
    assert (json.loads(version_one["Payload"]), version_one["ExecutedVersion"]) == ("first", "1")
    assert (json.loads(live["Payload"]), live["ExecutedVersion"]) == ("first", "1")


def test_an_unknown_qualifier_is_not_found(awslambda):
    with pytest.raises(ClientError) as raised:
        invoke(awslambda, "hello", Qualifier="99")

    assert raised.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_dry_run_answers_204_without_running(awslambda, logs):
    response = invoke(awslambda, "hello", {"name": "dry"}, InvocationType="DryRun")

    assert response["StatusCode"] == 204
    assert response["Payload"] == b""
    found = logs.filter_log_events(
        logGroupName="/aws/lambda/hello", filterPattern=f'"{response["RequestId"]}"'
    )
    assert found["events"] == []


def test_reserved_concurrency_zero_throttles_with_429_rate_exceeded(awslambda):
    with pytest.raises(ClientError) as raised:
        invoke(awslambda, "throttled")

    error = raised.value.response
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 429
    assert error["Error"]["Code"] == "TooManyRequestsException"
    assert error["Error"]["Message"] == "Rate exceeded"


# Says it has started (a message on the queue), then holds its one concurrency slot until the
# test releases it (a second message).
HOLDING_HANDLER = """
import time

import boto3

sqs = boto3.client("sqs")


def count(queue):
    attributes = sqs.get_queue_attributes(
        QueueUrl=queue, AttributeNames=["ApproximateNumberOfMessages"]
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"])


def lambda_handler(event, context):
    sqs.send_message(QueueUrl=event["queue"], MessageBody="started")
    deadline = time.monotonic() + 30
    while count(event["queue"]) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    return {"released": count(event["queue"]) >= 2}
"""


def test_an_invocation_while_reserved_concurrency_is_in_use_is_throttled(
    awslambda, sqs, make_function
):
    from concurrent.futures import ThreadPoolExecutor

    name = make_function(HOLDING_HANDLER, Timeout=60)
    awslambda.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=1)
    queue = sqs.create_queue(QueueName=f"hold-{uuid.uuid4().hex[:10]}")["QueueUrl"]

    def messages():
        attributes = sqs.get_queue_attributes(
            QueueUrl=queue, AttributeNames=["ApproximateNumberOfMessages"]
        )["Attributes"]
        return int(attributes["ApproximateNumberOfMessages"])

    with ThreadPoolExecutor(1) as pool:
        holding = pool.submit(invoke, awslambda, name, {"queue": queue})
        wait_until(lambda: messages() == 1, timeout=30)  # the first run holds the slot

        with pytest.raises(ClientError) as raised:
            invoke(awslambda, name, {"queue": queue})
        sqs.send_message(QueueUrl=queue, MessageBody="release")
        held = holding.result(timeout=60)

    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 429
    assert raised.value.response["Error"]["Code"] == "TooManyRequestsException"
    assert (held["StatusCode"], json.loads(held["Payload"])) == (200, {"released": True})


def test_a_synchronous_payload_over_6_mb_is_refused_with_413(awslambda):
    payload = {"blob": "x" * (6 * 1024 * 1024)}

    with pytest.raises(ClientError) as raised:
        invoke(awslambda, "hello", payload)

    error = raised.value.response
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 413
    assert error["Error"]["Code"] == "RequestTooLargeException"


def test_an_asynchronous_payload_over_1_mb_is_refused_with_413(awslambda):
    payload = {"blob": "x" * (1024 * 1024)}

    with pytest.raises(ClientError) as raised:
        invoke(awslambda, "hello", payload, InvocationType="Event")

    assert raised.value.response["Error"]["Code"] == "RequestTooLargeException"


def test_a_payload_that_is_not_json_is_refused_with_400(awslambda):
    with pytest.raises(ClientError) as raised:
        awslambda.invoke(FunctionName="hello", Payload=b"{not json")

    error = raised.value.response
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert error["Error"]["Code"] == "InvalidRequestContentException"


def test_the_first_invocation_reports_init_duration_and_the_next_does_not(awslambda, make_function):
    name = make_function("def lambda_handler(event, context):\n    return 'ok'\n")

    cold = invoke(awslambda, name, LogType="Tail")
    warm = invoke(awslambda, name, LogType="Tail")

    assert re.search(r"\tInit Duration: \d+\.\d\d ms\t", tail_of(cold))
    assert "Init Duration" not in tail_of(warm)


def test_the_log_is_written_to_cloudwatch_logs(awslambda, logs):
    response = invoke(awslambda, "hello", {"name": "carol"})

    events = logs.filter_log_events(
        logGroupName="/aws/lambda/hello", filterPattern=f'"{response["RequestId"]}"'
    )["events"]
    messages = [event["message"] for event in events]
    assert f"START RequestId: {response['RequestId']} Version: $LATEST" in messages
    assert f"END RequestId: {response['RequestId']}" in messages
    assert any(message.startswith("REPORT RequestId: ") for message in messages)
    stream = events[0]["logStreamName"]
    assert re.match(r"^\d{4}/\d\d/\d\d/\[\$LATEST\][0-9a-f]{32}$", stream)
    assert abs(events[0]["timestamp"] / 1000 - time.time()) < 60


def test_an_api_gateway_proxy_login_answers_200_or_401(awslambda):
    def login(password):
        event = {
            "resource": "/login",
            "path": "/login",
            "httpMethod": "POST",
            "headers": {"Content-Type": "application/json"},
            "requestContext": {"requestId": str(uuid.uuid4()), "stage": "prod"},
            "body": json.dumps({"username": "alice", "password": password}),
            "isBase64Encoded": False,
        }
        return json.loads(invoke(awslambda, "api-login", event)["Payload"])

    accepted = login("wonderland")
    refused = login("guess")

    assert accepted["statusCode"] == 200
    assert json.loads(accepted["body"])["token"].startswith("token-for-alice-")
    assert refused["statusCode"] == 401
    assert json.loads(refused["body"]) == {"message": "Unauthorized"}


# Each run says it has started, then waits until all eight have: only eight runs at once can
# all see eight. A sandbox that ran them one after another would have each wait in vain.
MEETING_HANDLER = """
import time

import boto3

sqs = boto3.client("sqs")


def lambda_handler(event, context):
    sqs.send_message(QueueUrl=event["queue"], MessageBody=context.aws_request_id)
    deadline = time.monotonic() + event["patience"]
    while time.monotonic() < deadline:
        attributes = sqs.get_queue_attributes(
            QueueUrl=event["queue"], AttributeNames=["ApproximateNumberOfMessages"]
        )["Attributes"]
        if int(attributes["ApproximateNumberOfMessages"]) >= event["expected"]:
            return {"met": True}
        time.sleep(0.05)
    return {"met": False}
"""


def test_eight_concurrent_invocations_run_in_parallel(awslambda, sqs, make_function):
    from concurrent.futures import ThreadPoolExecutor

    name = make_function(MEETING_HANDLER, Timeout=60)
    queue = sqs.create_queue(QueueName=f"meet-{uuid.uuid4().hex[:10]}")["QueueUrl"]
    event = {"queue": queue, "expected": 8, "patience": 25}

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda _: invoke(awslambda, name, event), range(8)))

    assert [answer["StatusCode"] for answer in answers] == [200] * 8
    assert [json.loads(answer["Payload"]) for answer in answers] == [{"met": True}] * 8


def test_the_logging_module_writes_lambdas_line_format(awslambda, make_function):
    name = make_function(
        "import logging\n\nlogger = logging.getLogger()\nlogger.setLevel(logging.INFO)\n\n"
        "def lambda_handler(event, context):\n    logger.info('charging %s', 42)\n"
    )

    response = invoke(awslambda, name, LogType="Tail")

    pattern = (
        r"\n\[INFO\]\t\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\t"
        + re.escape(response["RequestId"])
        + r"\tcharging 42\n"
    )
    assert re.search(pattern, tail_of(response))
