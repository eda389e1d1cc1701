"""Payloads: the size limits of each invocation type, the JSON check, and the built-in event
templates (the shapes AWS services send to a function, ready to edit). Used by the invoke and
template forms and, through the form, by `manage.py invoke`."""

import json
from dataclasses import dataclass
from typing import Any

from django.db import transaction

from invocations.access import audit
from invocations.access.actor import Actor
from invocations.aws import LAMBDA_SYNC_LIMIT
from invocations.models import Function, Invocation, PayloadTemplate
from invocations.shared import strict_json

SYNC_LIMIT = LAMBDA_SYNC_LIMIT  # RequestResponse and DryRun: Lambda's 6 MB
ASYNC_LIMIT = 1024 * 1024  # Event: Lambda's 1 MB (it was 256 KB before October 2025)
LIMITS: dict[str, int] = {
    Invocation.Type.REQUEST_RESPONSE: SYNC_LIMIT,
    Invocation.Type.DRY_RUN: SYNC_LIMIT,
    Invocation.Type.EVENT: ASYNC_LIMIT,
}
TEMPLATE_LIMIT = SYNC_LIMIT


def json_error(text: str) -> dict[str, Any] | None:
    """None when `text` is JSON as Lambda takes it; else the first mistake, {"msg", "line",
    "column"}, or {"reason"} for JSON that Python reads but Lambda refuses (NaN, Infinity) or
    that no one should send (nested past strict_json.MAX_DEPTH, integers thousands of digits
    long)."""
    try:
        strict_json.loads(text)
    except json.JSONDecodeError as error:
        return {"msg": error.msg, "line": error.lineno, "column": error.colno}
    except strict_json.InvalidJson as error:
        return {"reason": str(error)}
    return None


def over_limit(text: str, kind: str) -> tuple[int, int] | None:
    """(size, limit) in bytes when `text` is too large for an invocation of `kind`."""
    limit = LIMITS.get(kind)
    size = len(text.encode("utf-8"))
    if limit is not None and size > limit:
        return size, limit
    return None


def megabytes(size: int) -> str:
    return f"{size / 1024 / 1024:g} MB"


def save_template(
    function: Function, *, actor: Actor, name: str, payload: str, shared: bool
) -> PayloadTemplate:
    """Save (or update) the person's template of that name for the function, audited."""
    with transaction.atomic(durable=True):
        template, created = PayloadTemplate.objects.update_or_create(
            function=function,
            owner_id=actor.user_id,
            name=name,
            defaults={"payload": payload, "shared": shared},
        )
        audit.record(
            "template.create" if created else "template.update",
            actor=actor,
            target=template,
            summary=f"{'save' if created else 'update'} template {template.name!r} of {function}",
            details={"function": function.name, "shared": template.shared},
        )
    return template


def delete_template(template: PayloadTemplate, *, actor: Actor) -> None:
    with transaction.atomic(durable=True):
        audit.record(
            "template.delete",
            actor=actor,
            target=template,
            summary=f"delete template {template.name!r} of {template.function}",
            details={"function": template.function.name, "payload": template.payload[:2000]},
        )
        template.delete()


@dataclass(frozen=True)
class Builtin:
    key: str
    name: str
    event: dict[str, Any]

    @property
    def payload(self) -> str:
        return json.dumps(self.event, indent=2)


_API_LOGIN = {
    "resource": "/login",
    "path": "/login",
    "httpMethod": "POST",
    "headers": {"Content-Type": "application/json", "Host": "api.example.com"},
    "multiValueHeaders": {"Content-Type": ["application/json"]},
    "queryStringParameters": None,
    "multiValueQueryStringParameters": None,
    "pathParameters": None,
    "stageVariables": None,
    "requestContext": {
        "resourcePath": "/login",
        "httpMethod": "POST",
        "path": "/prod/login",
        "stage": "prod",
        "requestId": "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
        "identity": {"sourceIp": "203.0.113.10", "userAgent": "curl/8.5.0"},
    },
    "body": json.dumps({"username": "alice", "password": "wonderland"}),
    "isBase64Encoded": False,
}

_SQS_BATCH = {
    "Records": [
        {
            "messageId": "059f36b4-87a3-44ab-83d2-661975830a7d",
            "receiptHandle": "AQEBwJnKyrHigUMZj6rYigCgxlaS3SLy0a",
            "body": json.dumps({"order": 42, "items": ["book"]}),
            "attributes": {
                "ApproximateReceiveCount": "1",
                "SentTimestamp": "1545082649183",
                "SenderId": "AIDAIENQZJOLO23YVJ4VO",
                "ApproximateFirstReceiveTimestamp": "1545082649185",
            },
            "messageAttributes": {},
            "md5OfBody": "098f6bcd4621d373cade4e832627b4f6",
            "eventSource": "aws:sqs",
            "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:orders",
            "awsRegion": "us-east-1",
        }
    ]
}

_SNS = {
    "Records": [
        {
            "EventSource": "aws:sns",
            "EventVersion": "1.0",
            "EventSubscriptionArn": "arn:aws:sns:us-east-1:123456789012:orders:2bcfbf39",
            "Sns": {
                "Type": "Notification",
                "MessageId": "95df01b4-ee98-5cb9-9903-4c221d41eb5e",
                "TopicArn": "arn:aws:sns:us-east-1:123456789012:orders",
                "Subject": "order placed",
                "Message": json.dumps({"order": 42}),
                "Timestamp": "2026-01-02T12:00:00.000Z",
                "MessageAttributes": {},
            },
        }
    ]
}

_S3_PUT = {
    "Records": [
        {
            "eventVersion": "2.1",
            "eventSource": "aws:s3",
            "awsRegion": "us-east-1",
            "eventTime": "2026-01-02T12:00:00.000Z",
            "eventName": "ObjectCreated:Put",
            "s3": {
                "s3SchemaVersion": "1.0",
                "bucket": {"name": "uploads", "arn": "arn:aws:s3:::uploads"},
                "object": {"key": "incoming/report.csv", "size": 1024, "eTag": "0123456789abcdef"},
            },
        }
    ]
}

_SCHEDULED = {
    "version": "0",
    "id": "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa",
    "detail-type": "Scheduled Event",
    "source": "aws.events",
    "account": "123456789012",
    "time": "2026-01-02T12:00:00Z",
    "region": "us-east-1",
    "resources": ["arn:aws:events:us-east-1:123456789012:rule/every-hour"],
    "detail": {},
}

BUILTINS = [
    Builtin("apigw-login", "API Gateway REST proxy: POST /login", _API_LOGIN),
    Builtin("sqs-batch", "SQS batch", _SQS_BATCH),
    Builtin("sns", "SNS notification", _SNS),
    Builtin("s3-put", "S3 put", _S3_PUT),
    Builtin("scheduled", "EventBridge scheduled event", _SCHEDULED),
]
BY_KEY = {builtin.key: builtin for builtin in BUILTINS}
