"""Event source mappings run by the sandbox, as Lambda's pollers run them: a background thread
per mapping reads its queue or stream and invokes the function synchronously.

moto 5.2.5 runs a mapping inside the request that feeds its source (SendMessage, PutRecord,
PutItem), one message at a time and ignoring the result. ``install()`` unhooks every mapping
from its source as it is created, so moto never does that; the mapping stays in moto's Lambda
backend (Create/Get/List/Update/DeleteEventSourceMapping work as before) and ``Pollers`` finds
it there within ``DISCOVERY_INTERVAL_S``.

Pollers read through boto3 on the sandbox's own endpoint and invoke through its Invoke API, so
they meet the queue, the stream and the function exactly as any client does: receive counts,
visibility timeouts, redrive to a dead-letter queue and reserved concurrency all apply.
"""

import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from moto.awslambda.models import LambdaBackend, lambda_backends
from moto.dynamodb.models import dynamodb_backends
from moto.kinesis.models import kinesis_backends
from moto.sqs.models import sqs_backends

logger = logging.getLogger(__name__)

DISCOVERY_INTERVAL_S = 0.2
INVOKE_READ_TIMEOUT_S = 960  # a function may run 15 minutes
_installed = False


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
        qualifier = parts[7] if len(parts) > 7 else "$LATEST"
        return cls(parts[4], parts[3], parts[6], qualifier)


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


class Pollers:
    """Starts a poller thread for every mapping in moto's Lambda backends and stops them all."""

    def __init__(self, endpoint_url: str, time_scale: float) -> None:
        self.clients = Clients(endpoint_url)
        self.time_scale = time_scale
        self._stop = threading.Event()
        self._threads: dict[str, threading.Thread] = {}
        self._watcher = threading.Thread(target=self._watch, name="esm-watch", daemon=True)

    def start(self) -> "Pollers":
        self._watcher.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Asks every poller to stop and waits up to ``timeout`` in all; a poller waits at
        most its long poll (1 s) or the invoke in flight."""
        self._stop.set()
        deadline = time.monotonic() + timeout
        if self._watcher.is_alive():
            self._watcher.join(timeout)
        for thread in list(self._threads.values()):
            thread.join(max(deadline - time.monotonic(), 0.01))

    def _watch(self) -> None:
        while not self._stop.wait(DISCOVERY_INTERVAL_S):
            try:
                self._start_new_pollers()
            except Exception:
                logger.exception("event source mapping discovery failed")

    def _start_new_pollers(self) -> None:
        for backend in _lambda_backends():
            for uuid, mapping in list(backend._event_source_mappings.items()):
                thread = self._threads.get(uuid)
                if thread is not None and thread.is_alive():
                    continue
                poll = _poller_for(mapping.event_source_arn)
                context = PollContext(
                    mapping,
                    self.clients,
                    self.time_scale,
                    self._stop,
                    is_mapped=lambda b=backend, u=uuid: u in b._event_source_mappings,
                )
                thread = threading.Thread(
                    target=_run_poller, args=(poll, context), name=f"esm-{uuid[:8]}", daemon=True
                )
                self._threads[uuid] = thread
                thread.start()


def _run_poller(poll, context: PollContext) -> None:
    try:
        poll(context)
    except Exception:
        logger.exception("event source mapping %s stopped", context.mapping.uuid)


def _poller_for(source_arn: str):
    from sandbox import sqs_poller, stream_poller

    service = source_arn.split(":")[2]
    if service == "sqs":
        return sqs_poller.poll
    if service == "kinesis":
        return stream_poller.poll_kinesis
    return stream_poller.poll_dynamodb


def _lambda_backends():
    for regions in list(lambda_backends.values()):
        yield from list(regions.values())


def install() -> None:
    """Keeps moto from running mappings itself (see the module's docstring)."""
    global _installed
    if _installed:
        return
    _installed = True
    original = LambdaBackend.create_event_source_mapping

    def create_event_source_mapping(self, spec):
        mapping = original(self, spec)
        _unhook_from_sources(self.account_id, self.region_name, mapping)
        return mapping

    LambdaBackend.create_event_source_mapping = create_event_source_mapping


def _unhook_from_sources(account_id: str, region: str, mapping) -> None:
    holders = [
        *sqs_backends[account_id][region].queues.values(),
        *dynamodb_backends[account_id][region].tables.values(),
        *kinesis_backends[account_id][region].streams.values(),
    ]
    for holder in holders:
        hooks = holder.lambda_event_source_mappings
        for key in [key for key, value in hooks.items() if value is mapping]:
            del hooks[key]
