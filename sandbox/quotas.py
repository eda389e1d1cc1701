"""AWS's documented request quotas on the control-plane calls the dashboard makes
(`sandbox --aws-quotas`, and `--scale`): past its rate, a call is refused as AWS refuses it, and
the dashboard's clients must get through with their retries.

The rates, per account and Region, each a token bucket holding one second of requests:

- Lambda (https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html, "Lambda API
  requests"): GetFunction 100 a second, GetPolicy 15, and every other control-plane API 15 a
  second together (invocations are not control-plane requests): 429 TooManyRequestsException,
  "Rate exceeded".
- CloudWatch Logs (https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/
  cloudwatch_limits_cwl.html): FilterLogEvents 5 a second: ThrottlingException.
- CloudWatch (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/
  cloudwatch_limits.html): GetMetricData 50 a second: Throttling.

SQS has no request quota on standard queues; SNS and EventBridge list calls are far under theirs.
The quotas start once the sandbox is seeded (the seeding is the account's history, not a burst).
"""

from __future__ import annotations

import threading
import time

from moto.iam.models import get_account_id_from

from sandbox.iam import CREDENTIAL, Request, error_answer, operation_of

QUOTA_SERVICES = {"lambda", "logs", "monitoring"}
LAMBDA_DATA_PLANE = {"Invoke", "InvokeAsync", "InvokeWithResponseStream"}


def bucket_of(service: str, operation: str | None) -> tuple[str, float] | None:
    """The quota a call counts against: (bucket name, requests a second), or None."""
    if operation is None:
        return None
    if service == "lambda" and operation not in LAMBDA_DATA_PLANE:
        if operation in {"GetFunction", "GetPolicy"}:
            return f"lambda:{operation}", 100.0 if operation == "GetFunction" else 15.0
        return "lambda:control-plane", 15.0
    if service == "logs" and operation == "FilterLogEvents":
        return "logs:FilterLogEvents", 5.0
    if service == "monitoring" and operation == "GetMetricData":
        return "cloudwatch:GetMetricData", 50.0
    return None


class _Bucket:
    def __init__(self, rate: float) -> None:
        self.rate = rate
        self.tokens = rate
        self.at = time.monotonic()
        self.lock = threading.Lock()

    def take(self) -> bool:
        with self.lock:
            now = time.monotonic()
            self.tokens = min(self.rate, self.tokens + (now - self.at) * self.rate)
            self.at = now
            if self.tokens >= 1:
                self.tokens -= 1
                return True
            return False


class RequestQuotas:
    """The WSGI layer that refuses calls past their quota; off until `start()`."""

    def __init__(self, app) -> None:
        self.app = app
        self.started = False
        self.refused = 0  # calls refused so far (the sandbox's log says it at exit)
        self._buckets: dict[tuple[str, str, str], _Bucket] = {}
        self._lock = threading.Lock()

    def start(self) -> None:
        self.started = True

    def __call__(self, environ, start_response):
        found = CREDENTIAL.search(environ.get("HTTP_AUTHORIZATION") or "")
        if not self.started or found is None or found["service"] not in QUOTA_SERVICES:
            return self.app(environ, start_response)
        request = Request(environ)
        service = found["service"]
        quota = bucket_of(service, operation_of(service, request))
        if quota is None:
            return self.app(environ, start_response)
        name, rate = quota
        key = (get_account_id_from(found["key"]), found["region"], name)
        with self._lock:
            bucket = self._buckets.setdefault(key, _Bucket(rate))
        if bucket.take():
            return self.app(environ, start_response)
        self.refused += 1
        if service == "lambda":
            return error_answer(
                service, request, 429, "TooManyRequestsException", "Rate exceeded", start_response
            )
        code = "ThrottlingException" if service == "logs" else "Throttling"
        return error_answer(service, request, 400, code, "Rate exceeded", start_response)
