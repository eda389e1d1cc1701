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

import logging
import threading
import time

from moto.awslambda.models import EventSourceMapping, LambdaBackend, lambda_backends
from moto.dynamodb.models import dynamodb_backends
from moto.kinesis.models import kinesis_backends
from moto.sqs.models import sqs_backends

from sandbox import sqs_poller, stream_poller
from sandbox.mappings import Clients, PollContext, event_filters
from sandbox.moto_fixes import split_qualifier

logger = logging.getLogger(__name__)

DISCOVERY_INTERVAL_S = 0.2
_installed = False


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
                reason = not_emulated(mapping)
                if reason is not None:
                    mapping.enabled = False
                    if getattr(mapping, "sandbox_state_reason", None) != reason:
                        mapping.sandbox_state_reason = reason
                        logger.error("event source mapping %s disabled: %s", uuid, reason)
                    continue
                if not mapping.enabled:
                    continue  # no poller thread until it is enabled (a scaled account has 200)
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

    original_update = LambdaBackend.update_event_source_mapping

    def create_event_source_mapping(self, spec):
        mapping = original(self, spec)
        _unhook_from_sources(self.account_id, self.region_name, mapping)
        mapping.function_arn = _named_function_arn(self, spec["FunctionName"])
        return mapping

    def update_event_source_mapping(self, uuid, spec):
        mapping = original_update(self, uuid, spec)
        if mapping is not None and spec.get("FunctionName"):
            mapping.function_arn = _named_function_arn(self, spec["FunctionName"])
        return mapping

    LambdaBackend.create_event_source_mapping = create_event_source_mapping
    LambdaBackend.update_event_source_mapping = update_event_source_mapping

    original_configuration = EventSourceMapping.get_configuration

    def get_configuration(self):
        configuration = original_configuration(self)
        reason = getattr(self, "sandbox_state_reason", None)
        if reason:
            configuration["StateTransitionReason"] = reason
            configuration["LastProcessingResult"] = f"PROBLEM: {reason}"
        return configuration

    EventSourceMapping.get_configuration = get_configuration


def not_emulated(mapping) -> str | None:
    """Why the sandbox cannot run this mapping as Lambda would, or None. Such a mapping is kept
    (the API answers as AWS's does) but disabled, with the reason as its state's."""
    if int(getattr(mapping, "tumbling_window", None) or 0) > 0:
        return "The sandbox does not emulate tumbling windows (TumblingWindowInSeconds)"
    filters = (getattr(mapping, "filter_criteria", None) or {}).get("Filters")
    if filters and _poller_for(mapping.event_source_arn) is not sqs_poller.poll:
        return "The sandbox applies FilterCriteria to SQS mappings only"
    if filters:
        try:
            event_filters(mapping)
        except ValueError as error:
            return f"Invalid FilterCriteria: {error}"
    return None


def _named_function_arn(backend: LambdaBackend, function_name: str) -> str:
    """The function ARN a mapping invokes, with the version or alias its FunctionName named
    (moto keeps the resolved version's ARN, so an alias was lost), as Lambda returns it."""
    name, qualifier = split_qualifier(function_name, None)
    function = backend.get_function(name)
    unqualified = function.function_arn.split(":function:")[0] + f":function:{name}"
    return f"{unqualified}:{qualifier}" if qualifier else unqualified


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
