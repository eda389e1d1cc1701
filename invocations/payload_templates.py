"""Built-in event templates: the shapes AWS services send to a function, ready to edit."""

import json
from dataclasses import dataclass


@dataclass(frozen=True)
class Builtin:
    key: str
    name: str
    event: dict

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
