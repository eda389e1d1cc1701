"""Where an asynchronous invocation's outcome goes: the OnSuccess / OnFailure destination
(SQS, SNS, EventBridge or Lambda) as a record in AWS's shape, and the original event to the
function's dead-letter queue (SQS or SNS) with Lambda's message attributes.

Delivery goes through boto3 to the sandbox itself, so subscriptions, rules and queues behave
exactly as they do for any other client.
"""

import json
import logging
import threading

import boto3
from botocore.config import Config

from sandbox import metrics
from sandbox.logs import iso_now

logger = logging.getLogger(__name__)

RECORD_PAYLOAD_LIMIT = 256 * 1024  # over this, Lambda drops the payloads from the record
DLQ_MESSAGE_LIMIT = 1024
SUCCESS_DETAIL_TYPE = "Lambda Function Invocation Result - Success"
FAILURE_DETAIL_TYPE = "Lambda Function Invocation Result - Failure"
# As Lambda words it (sic).
ZERO_CONCURRENCY_MESSAGE = (
    "Function not invoked. Function isconfigured with zero reserved concurrent executions"
)


def build_record(event, condition: str) -> dict:
    """The invocation record Lambda sends to an OnSuccess / OnFailure destination (the
    ``event`` is an ``async_queue.AsyncEvent``)."""
    function = event.function
    result = event.last_result
    executed_version = result.executed_version if result else str(function.version)
    unqualified_arn = function.function_arn.split(":function:")[0] + (
        f":function:{function.function_name}"
    )
    record = {
        "version": "1.0",
        "timestamp": iso_now(),
        "requestContext": {
            "requestId": event.request_id,
            "functionArn": f"{unqualified_arn}:{executed_version}",
            "condition": condition,
            "approximateInvokeCount": event.executions,
        },
        "requestPayload": _parse(event.payload),
    }
    if result is not None:  # the function ran at least once
        response_context = {"statusCode": 200, "executedVersion": executed_version}
        if result.function_error:
            response_context["functionError"] = result.function_error
        record["responseContext"] = response_context
        record["responsePayload"] = _parse(result.payload) if result.payload else None
    if len(json.dumps(record)) > RECORD_PAYLOAD_LIMIT:
        record.pop("requestPayload", None)
        record.pop("responsePayload", None)
    return record


def _parse(text: str):
    try:
        return json.loads(text)
    except ValueError:
        return text


def dead_letter_attributes(event) -> dict:
    result = event.last_result
    if result is None and event.zero_concurrency:
        code = "429"
        message = ZERO_CONCURRENCY_MESSAGE
    elif result is None:  # never ran: every attempt was throttled
        code, message = "429", "Rate exceeded"
    else:
        code, message = "200", result.error_message or ""
    message = message.encode("utf-8")[:DLQ_MESSAGE_LIMIT].decode("utf-8", errors="ignore")
    return {
        "RequestID": {"DataType": "String", "StringValue": event.request_id},
        "ErrorCode": {"DataType": "Number", "StringValue": code},
        "ErrorMessage": {"DataType": "String", "StringValue": message or "Unknown"},
    }


class Deliverer:
    def __init__(self, endpoint_url: str) -> None:
        self._endpoint_url = endpoint_url
        self._clients: dict[tuple[str, str], object] = {}
        self._lock = threading.Lock()

    def deliver(self, event, condition: str, config: dict) -> None:
        destinations = config.get("DestinationConfig") or {}
        key = "OnSuccess" if condition == "Success" else "OnFailure"
        target = (destinations.get(key) or {}).get("Destination")
        if condition != "Success":
            metrics.record(event.function, "AsyncEventsDropped", 1, invoked_arn=event.invoked_arn)
        if target:
            try:
                self.send_record(target, build_record(event, condition), condition == "Success")
            except Exception:
                metrics.record(
                    event.function, "DestinationDeliveryFailures", 1, invoked_arn=event.invoked_arn
                )
                logger.exception("could not deliver %s to %s", event.request_id, target)
        dead_letter = getattr(event.function, "dead_letter_target_arn", None)
        if condition != "Success" and dead_letter:
            try:
                self.send_to_dead_letter(dead_letter, event)
            except Exception:
                metrics.record(event.function, "DeadLetterErrors", 1, invoked_arn=event.invoked_arn)
                logger.exception("could not send %s to %s", event.request_id, dead_letter)

    def send_record(self, target_arn: str, record: dict, succeeded: bool) -> None:
        service, region, account = _arn_parts(target_arn)
        body = json.dumps(record)
        if service == "sqs":
            self._sqs_send(target_arn, body, {})
        elif service == "sns":
            self._client("sns", region).publish(TopicArn=target_arn, Message=body)
        elif service == "events":
            function_arn = record["requestContext"]["functionArn"]
            entry = {
                "Source": "lambda",
                "DetailType": SUCCESS_DETAIL_TYPE if succeeded else FAILURE_DETAIL_TYPE,
                "Detail": body,
                "EventBusName": target_arn,
                "Resources": [target_arn, function_arn],
            }
            self._client("events", region).put_events(Entries=[entry])
        elif service == "lambda":
            self._client("lambda", region).invoke(
                FunctionName=target_arn, InvocationType="Event", Payload=body.encode()
            )
        else:
            raise ValueError(f"unsupported destination {target_arn}")

    def send_to_dead_letter(self, target_arn: str, event) -> None:
        service, region, _ = _arn_parts(target_arn)
        attributes = dead_letter_attributes(event)
        if service == "sqs":
            self._sqs_send(target_arn, event.payload, attributes)
        elif service == "sns":
            self._client("sns", region).publish(
                TopicArn=target_arn, Message=event.payload, MessageAttributes=attributes
            )
        else:
            raise ValueError(f"unsupported dead-letter target {target_arn}")

    def _sqs_send(self, queue_arn: str, body: str, attributes: dict) -> None:
        _, region, account = _arn_parts(queue_arn)
        sqs = self._client("sqs", region)
        queue_name = queue_arn.rsplit(":", 1)[-1]
        url = sqs.get_queue_url(QueueName=queue_name, QueueOwnerAWSAccountId=account)["QueueUrl"]
        sqs.send_message(QueueUrl=url, MessageBody=body, MessageAttributes=attributes)

    def _client(self, service: str, region: str):
        with self._lock:
            client = self._clients.get((service, region))
            if client is None:
                client = boto3.session.Session().client(
                    service,
                    region_name=region,
                    endpoint_url=self._endpoint_url,
                    aws_access_key_id="testing",
                    aws_secret_access_key="testing",
                    config=Config(retries={"max_attempts": 2, "mode": "standard"}),
                )
                self._clients[(service, region)] = client
            return client


def _arn_parts(arn: str) -> tuple[str, str, str]:
    parts = arn.split(":")
    return parts[2], parts[3], parts[4]
