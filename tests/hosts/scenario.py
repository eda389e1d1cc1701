"""What the scenarios share: a person's browser session on the web host, a function that writes
down every run it makes, and the counts the figures are made of."""

import http.cookiejar
import io
import json
import re
import urllib.parse
import urllib.request
import uuid
import zipfile
from datetime import UTC, datetime, timedelta

import boto3

from tests.hosts import cluster as hosts

# Each run sends one message, {"marker", "request_id"}, to the queue named in its event: the
# sandbox's own record of what ran, one message per run, whoever asked for it.
COUNTING_HANDLER = """
import json
import time

import boto3


def lambda_handler(event, context):
    boto3.client("sqs").send_message(
        QueueUrl=event["runs"],
        MessageBody=json.dumps({"marker": event["marker"], "request_id": context.aws_request_id}),
    )
    time.sleep(event.get("seconds", 0))
    return {"marker": event["marker"]}
"""


def aws(service: str):
    return boto3.client(
        service,
        endpoint_url=hosts.sandbox_url(),
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def counting_function() -> tuple[str, str]:
    """A new function that counts its runs, and the URL of the queue it counts them on."""
    name = f"counted-{uuid.uuid4().hex[:8]}"
    runs_url = aws("sqs").create_queue(QueueName=f"{name}-runs")["QueueUrl"]
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("lambda_function.py", COUNTING_HANDLER)
    from sandbox.seed import _ensure_role

    aws("lambda").create_function(
        FunctionName=name,
        Runtime="python3.11",
        Role=_ensure_role(aws("iam")),
        Handler="lambda_function.lambda_handler",
        Code={"ZipFile": archive.getvalue()},
        Timeout=60,
    )
    return name, runs_url


def read_runs(runs_url: str, into: dict[str, list[str]]) -> dict[str, list[str]]:
    """Move every run message off the queue into `into` (marker -> request IDs)."""
    sqs = aws("sqs")
    while True:
        messages = sqs.receive_message(
            QueueUrl=runs_url, MaxNumberOfMessages=10, WaitTimeSeconds=0
        ).get("Messages", [])
        if not messages:
            return into
        for message in messages:
            body = json.loads(message["Body"])
            into.setdefault(body["marker"], []).append(body["request_id"])
        sqs.delete_message_batch(
            QueueUrl=runs_url,
            Entries=[
                {"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]} for n, m in enumerate(messages)
            ],
        )


def invocations_counted(function_name: str, since: datetime) -> int:
    """Lambda's own Invocations metric of the function in the sandbox: every run, counted."""
    answer = aws("cloudwatch").get_metric_statistics(
        Namespace="AWS/Lambda",
        MetricName="Invocations",
        # Each run is published under two dimension sets (sandbox/metrics.py); this one
        # matches one of them only.
        Dimensions=[
            {"Name": "FunctionName", "Value": function_name},
            {"Name": "Resource", "Value": function_name},
        ],
        StartTime=since - timedelta(minutes=5),
        EndTime=datetime.now(UTC) + timedelta(minutes=5),
        Period=3600,
        Statistics=["Sum"],
    )
    return int(sum(point["Sum"] for point in answer["Datapoints"]))


def queue_depth(url: str) -> int:
    attributes = aws("sqs").get_queue_attributes(
        QueueUrl=url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(
        attributes["ApproximateNumberOfMessagesNotVisible"]
    )


class Browser:
    """A person's session on the web host, over HTTP as a browser would (CSRF included)."""

    def __init__(self, username: str, password: str):
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))
        self.base = hosts.web_url()
        page = self.get("/accounts/login/")
        self.post(
            "/accounts/login/",
            {"username": username, "password": password, "csrfmiddlewaretoken": _token(page)},
        )

    def _csrf(self) -> str:
        return next(cookie.value for cookie in self.jar if cookie.name == "csrftoken")

    def get(self, path: str) -> str:
        with self.opener.open(self.base + path, timeout=30) as answer:
            return answer.read().decode()

    def post(self, path: str, fields: dict[str, str]) -> int:
        data = urllib.parse.urlencode(fields).encode()
        request = urllib.request.Request(
            self.base + path, data=data, headers={"X-CSRFToken": self._csrf()}
        )
        try:
            with self.opener.open(request, timeout=30) as answer:
                return answer.status
        except urllib.error.HTTPError as error:
            return error.code

    def invoke(self, function_name: str, invocation_type: str, payload: dict) -> int:
        return self.post(
            f"/functions/{function_name}/invoke/",
            {"invocation_type": invocation_type, "payload": json.dumps(payload)},
        )


def _token(page: str) -> str:
    found = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
    assert found, "no CSRF token on the login page"
    return found.group(1)
