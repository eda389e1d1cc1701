"""What a mapping's poller is given and gives back: the mapped function, the clients it reads
its source and invokes through, and the outcome of one invoke. Shared by ``event_sources`` (which
starts the pollers) and the pollers themselves (``sqs_poller``, ``stream_poller``)."""

import json
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

logger = logging.getLogger(__name__)

INVOKE_READ_TIMEOUT_S = 960  # a function may run 15 minutes


@dataclass(frozen=True)
class MappedFunction:
    """What the metrics need to know of a mapping's function, from its ARN."""

    account_id: str
    region: str
    function_name: str
    version: str

    @classmethod
    def from_arn(cls, arn: str) -> "MappedFunction":
        parts = arn.split(":")
        # A version runs itself; what an alias runs is known only once it has run.
        version = parts[7] if len(parts) > 7 and parts[7].isdigit() else "$LATEST"
        return cls(parts[4], parts[3], parts[6], version)


@dataclass(frozen=True)
class Outcome:
    """One synchronous invoke by a poller. ``invoked`` is False when Lambda refused it
    (throttled, or the function is gone): nothing ran, so no retry is used up."""

    invoked: bool
    request_id: str = ""
    payload: bytes = b""
    function_error: str | None = None
    executed_version: str = "$LATEST"

    def parsed_payload(self):
        try:
            return json.loads(self.payload or b"null")
        except ValueError:
            return self.payload.decode("utf-8", errors="replace")


class Clients:
    """boto3 clients on the sandbox's own endpoint, one per service and region."""

    def __init__(self, endpoint_url: str) -> None:
        self.endpoint_url = endpoint_url
        self._clients: dict[tuple[str, str], object] = {}
        self._lock = threading.Lock()

    def get(self, service: str, region: str):
        with self._lock:
            client = self._clients.get((service, region))
            if client is None:
                client = boto3.session.Session().client(
                    service,
                    region_name=region,
                    endpoint_url=self.endpoint_url,
                    aws_access_key_id="testing",
                    aws_secret_access_key="testing",
                    config=Config(
                        retries={"max_attempts": 1, "mode": "standard"},
                        read_timeout=INVOKE_READ_TIMEOUT_S,
                        connect_timeout=5,
                    ),
                )
                self._clients[(service, region)] = client
            return client

    def invoke(self, function_arn: str, event: dict) -> Outcome:
        awslambda = self.get("lambda", function_arn.split(":")[3])
        try:
            response = awslambda.invoke(
                FunctionName=function_arn, Payload=json.dumps(event).encode("utf-8")
            )
        except (ClientError, BotoCoreError) as exc:
            logger.info("event source mapping could not invoke %s: %s", function_arn, exc)
            return Outcome(invoked=False)
        return Outcome(
            invoked=True,
            request_id=response["ResponseMetadata"].get("RequestId", ""),
            payload=response["Payload"].read(),
            function_error=response.get("FunctionError"),
            executed_version=response.get("ExecutedVersion", "$LATEST"),
        )


@dataclass
class PollContext:
    """What one mapping's poller thread is given."""

    mapping: object  # moto's EventSourceMapping, read live so updates apply at once
    clients: Clients
    time_scale: float
    stop: threading.Event
    is_mapped: Callable[[], bool]

    def running(self) -> bool:
        return not self.stop.is_set() and self.is_mapped()

    def wait(self, seconds: float) -> None:
        self.stop.wait(max(seconds, 0.0))


def event_filters(mapping) -> list:
    """The mapping's FilterCriteria as EventBridge patterns (moto's own matcher, the syntax
    Lambda's event filtering uses); [] without filters. ValueError for an invalid pattern."""
    from moto.events.models import EventPattern

    patterns = []
    for item in (getattr(mapping, "filter_criteria", None) or {}).get("Filters") or []:
        try:
            patterns.append(EventPattern.load(item.get("Pattern") or ""))
        except Exception as error:  # moto raises its own HTTP exception class
            raise ValueError(f"{item.get('Pattern')!r} is not a valid event pattern") from error
    return patterns


def passes_filters(patterns: list, record: dict) -> bool:
    """Whether a record is sent to the function: no filters, or any filter matches it."""
    return not patterns or any(pattern.matches_event(record) for pattern in patterns)
