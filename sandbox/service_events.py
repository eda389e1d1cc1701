"""SNS, S3 and EventBridge invoke Lambda functions asynchronously, as on AWS: the event goes
through the same queue as an ``InvocationType=Event`` call (retries, maximum event age,
OnSuccess / OnFailure destinations, the dead-letter queue, the ``Async*`` metrics), in the shape
each service documents.

moto 5.2.5 called the function synchronously inside the publishing request (SNS, S3), with an
SNS event of placeholder values (``TopicArn`` "arn:aws:sns:EXAMPLE", fixed message attributes),
and answered PutEvents with HTTP 500 ("Expr not defined for Rule") for a rule with a Lambda
target. ``install()`` replaces those three paths; every other target and protocol is moto's.
"""

import base64
import copy
import json
import logging
import secrets
import time
from datetime import UTC, datetime
from urllib.parse import quote_plus, unquote_plus

from moto.awslambda.models import lambda_backends
from moto.events.models import Rule
from moto.events.utils import EventTemplateParser
from moto.s3 import notifications as s3_notifications
from moto.sns.models import Subscription
from moto.utilities.arns import parse_arn

from sandbox.moto_fixes import split_qualifier

logger = logging.getLogger(__name__)
# The fields of an EventBridge event, in the order EventBridge sends them.
EVENT_FIELDS = ("version", "id", "detail-type", "source", "account", "time", "region")
_installed = False


def install(submit) -> None:
    """``submit(function, payload, invoked_arn)`` queues one asynchronous invocation."""
    global _installed
    if _installed:
        return
    _installed = True
    _sns(submit)
    _s3(submit)
    _eventbridge(submit)


def invoke_async(submit, account_id: str, function_arn: str, event: dict) -> None:
    """Queues ``event`` for the function (or version, or alias) ``function_arn`` names. A
    function that does not exist drops the event, as the services do (S3 and SNS record a
    failed delivery; nothing reaches the caller)."""
    parts = function_arn.split(":")
    region = parts[3]
    account_id = parts[4] or account_id  # the function's own account, when the ARN names one
    name, qualifier = split_qualifier(function_arn, None)
    try:
        function = lambda_backends[account_id][region].get_function(name, qualifier)
    except Exception:
        logger.warning("no function %s: the event is dropped", function_arn)
        return
    submit(function, json.dumps(event), function_arn)


def _sns(submit) -> None:
    original = Subscription.publish

    def publish(self, message, message_id, subject=None, message_attributes=None, **kwargs):
        if self.protocol != "lambda":
            return original(
                self, message, message_id, subject, message_attributes=message_attributes, **kwargs
            )
        matcher = self._filter_policy_matcher
        if matcher is not None and not matcher.matches(message_attributes, message):
            return None
        if kwargs.get("message_structure") == "json":
            message = self._parse_message_structure(message, self.protocol)
        invoke_async(
            submit,
            self.account_id,
            self.endpoint,
            sns_event(self, message, message_id, subject, message_attributes),
        )
        return None

    Subscription.publish = publish


def sns_event(subscription, message: str, message_id: str, subject, message_attributes) -> dict:
    """The event Lambda receives from an SNS subscription ("Invoking Lambda functions with
    Amazon SNS notifications"): the notification, signed as for HTTP endpoints, under
    ``Records[0].Sns``."""
    posted = subscription.get_post_data(
        message, message_id, subject, message_attributes=message_attributes
    )
    return {
        "Records": [
            {
                "EventSource": "aws:sns",
                "EventVersion": "1.0",
                "EventSubscriptionArn": subscription.arn,
                "Sns": {
                    "Type": posted["Type"],
                    "MessageId": posted["MessageId"],
                    "TopicArn": posted["TopicArn"],
                    "Subject": posted.get("Subject"),
                    "Message": posted["Message"],
                    "Timestamp": posted["Timestamp"],
                    "SignatureVersion": posted["SignatureVersion"],
                    "Signature": posted["Signature"],
                    "SigningCertUrl": posted["SigningCertURL"],
                    "UnsubscribeUrl": posted["UnsubscribeURL"],
                    "MessageAttributes": posted.get("MessageAttributes") or {},
                },
            }
        ]
    }


def _s3(submit) -> None:
    def _invoke_awslambda(account_id, event_body, fn_arn, region_name):
        invoke_async(submit, account_id, fn_arn, s3_event(event_body, account_id))

    s3_notifications._invoke_awslambda = _invoke_awslambda


def s3_event(moto_event: dict, account_id: str) -> dict:
    """S3's event ("Event message structure") from moto's: the fields moto leaves out, and the
    key encoded as S3 encodes it (moto's ``quote_plus`` also encoded the slashes)."""
    principal = {"principalId": f"AWS:{account_id}"}
    records = []
    for record in moto_event["Records"]:
        s3 = dict(record["s3"])
        s3["bucket"] = {**s3["bucket"], "ownerIdentity": principal}
        key = quote_plus(unquote_plus(s3["object"]["key"]), safe="/")
        s3["object"] = {**s3["object"], "key": key, "sequencer": f"{time.time_ns():016X}"}
        records.append(
            {
                **{name: value for name, value in record.items() if name != "s3"},
                "userIdentity": principal,
                "requestParameters": {"sourceIPAddress": "127.0.0.1"},
                "responseElements": {
                    "x-amz-request-id": secrets.token_hex(8).upper(),
                    "x-amz-id-2": base64.b64encode(secrets.token_bytes(48)).decode("ascii"),
                },
                "s3": s3,
            }
        )
    return {"Records": records}


def _eventbridge(submit) -> None:
    original = Rule.send_to_targets

    def send_to_targets(self, original_event, transform_input=True):
        functions = [t for t in self.targets if parse_arn(t["Arn"]).service == "lambda"]
        if len(functions) < len(self.targets):
            others = copy.copy(self)
            others.targets = [t for t in self.targets if t not in functions]
            original(others, original_event, transform_input)
        if not functions or not self.event_pattern.matches_event(original_event):
            return
        for target in functions:
            event = target_input(target, original_event) if transform_input else original_event
            invoke_async(submit, self.account_id, target["Arn"], event)

    Rule.send_to_targets = send_to_targets


def target_input(target: dict, event: dict):
    """What a target receives ("Transforming Amazon EventBridge target input"): the event, the
    constant ``Input``, the part ``InputPath`` selects, or the ``InputTransformer``'s result."""
    if "Input" in target:
        return json.loads(target["Input"])
    if "InputPath" in target:
        from jsonpath_ng.ext import parse

        matches = parse(target["InputPath"]).find(event)
        return matches[0].value if matches else None
    if "InputTransformer" in target:
        transformer = target["InputTransformer"]
        return EventTemplateParser.parse(
            input_template=transformer.get("InputTemplate"),
            input_paths_map=transformer.get("InputPathsMap", {}),
            event=event,
        )
    envelope = {key: event[key] for key in EVENT_FIELDS if key in event}
    envelope["time"] = _iso_time(envelope.get("time"))
    envelope["resources"] = event.get("resources", [])
    envelope["detail"] = event.get("detail", {})
    return envelope


def _iso_time(value) -> str:
    """EventBridge's ``time`` is ISO 8601 in UTC to the second; moto keeps a Unix time."""
    if isinstance(value, int | float):
        value = datetime.fromtimestamp(value, UTC)
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return str(value)
