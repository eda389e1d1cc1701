"""Lambda's queue for asynchronous (``Event``) invocations: retries, event age, then
destinations.

Time is compressed. AWS waits about 60 s then 120 s between retries; the sandbox waits
``retry_delays`` (default 1 s, 2 s), and scales every other asynchronous duration by the same
factor (``retry_delays[0] / 60``): ``MaximumEventAgeInSeconds`` and the backoff of throttled
attempts. So a function with a 60 s maximum event age gives up after 1 s by default, or 0.2 s
with ``--retry-delays 0.2,0.4``.
"""

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from moto.awslambda.models import LambdaFunction, lambda_backends

from sandbox import metrics
from sandbox.moto_fixes import find_event_invoke_config

logger = logging.getLogger(__name__)

AWS_FIRST_RETRY_DELAY_S = 60.0
DEFAULT_MAX_RETRIES = 2
DEFAULT_MAX_EVENT_AGE_S = 6 * 3600
MIN_TIME_SCALE = 1 / 600  # so "--retry-delays 0,0" still leaves events a moment to live
MIN_THROTTLE_BACKOFF_S = 0.05


@dataclass
class AsyncEvent:
    function: LambdaFunction  # the version the caller's qualifier resolved to
    payload: str
    request_id: str
    invoked_arn: str | None = None  # the ARN the caller named (an alias ARN through an alias)
    received_at: float = field(default_factory=time.monotonic)
    executions: int = 0  # attempts that ran the handler (approximateInvokeCount)
    throttles: int = 0
    zero_concurrency: bool = False
    last_result: Any = None  # the InvokeResult of the last execution


@dataclass(frozen=True)
class AsyncPolicy:
    retry_delays: tuple[float, ...]

    @property
    def time_scale(self) -> float:
        first = self.retry_delays[0] if self.retry_delays else 0.0
        return max(first / AWS_FIRST_RETRY_DELAY_S, MIN_TIME_SCALE)

    def retry_delay(self, executions: int) -> float:
        if not self.retry_delays:
            return 0.0
        return self.retry_delays[min(executions, len(self.retry_delays)) - 1]

    def max_event_age(self, configured_seconds: float) -> float:
        return configured_seconds * self.time_scale

    def throttle_backoff(self, throttles: int) -> float:
        # Lambda backs off from about 1 s up to 5 minutes.
        aws_seconds = min(2.0 ** (throttles - 1), 300.0)
        return max(aws_seconds * self.time_scale, MIN_THROTTLE_BACKOFF_S)


def event_invoke_config(function: LambdaFunction, invoked_arn: str | None = None) -> dict:
    """The configuration of what the caller invoked: the function, or the version or alias it
    named (each has its own; none falls back to the function's)."""
    backend = lambda_backends[function.account_id][function.region]
    found = find_event_invoke_config(
        backend, function.function_name, metrics.qualifier_of(invoked_arn)
    )
    return dict(found.config) if found else {}


def reserved_concurrency(function: LambdaFunction) -> int | None:
    """Reserved concurrency is set on $LATEST and applies to every version of the function."""
    latest = lambda_backends[function.account_id][function.region].get_function(
        function.function_name
    )
    reserved = latest.reserved_concurrency
    return None if reserved is None else int(reserved)


class AsyncQueue:
    def __init__(
        self,
        attempt: Callable[[AsyncEvent], Any],
        finish: Callable[[AsyncEvent, str, dict], None],
        policy: AsyncPolicy,
        workers: int = 16,
    ) -> None:
        self._attempt = attempt
        self._finish = finish
        self.policy = policy
        self._executor = ThreadPoolExecutor(workers, thread_name_prefix="lambda-async")
        self._timers: set[threading.Timer] = set()
        self._lock = threading.Lock()
        self._stopped = False

    def submit(self, event: AsyncEvent) -> None:
        self._executor.submit(self._process, event)

    def stop(self) -> None:
        with self._lock:
            self._stopped = True
            for timer in self._timers:
                timer.cancel()
        self._executor.shutdown(wait=False, cancel_futures=True)

    def _later(self, delay: float, event: AsyncEvent) -> None:
        def fire() -> None:
            with self._lock:
                self._timers.discard(timer)
                if self._stopped:
                    return
            self.submit(event)

        timer = threading.Timer(delay, fire)
        timer.daemon = True
        with self._lock:
            if self._stopped:
                return
            self._timers.add(timer)
        timer.start()

    def _process(self, event: AsyncEvent) -> None:
        try:
            self._step(event)
        except Exception:
            logger.exception("asynchronous invocation %s failed in the sandbox", event.request_id)

    def _step(self, event: AsyncEvent) -> None:
        config = event_invoke_config(event.function, event.invoked_arn)
        if reserved_concurrency(event.function) == 0:
            # Lambda does not keep events for a function that may never run: straight to the
            # failure destination and the dead-letter queue, without an attempt or a retry.
            event.zero_concurrency = True
            self._finish(event, "ZeroReservedConcurrency", config)
            return
        max_age = self.policy.max_event_age(
            config.get("MaximumEventAgeInSeconds", DEFAULT_MAX_EVENT_AGE_S)
        )
        age = time.monotonic() - event.received_at
        if age > max_age:
            self._finish(event, "EventAgeExceeded", config)
            return

        metrics.record(
            event.function, "AsyncEventAge", round(age * 1000), "Milliseconds", event.invoked_arn
        )
        result = self._attempt(event)
        if result.zero_concurrency:  # set to 0 since the check above
            event.zero_concurrency = True
            self._finish(event, "ZeroReservedConcurrency", config)
            return
        if result.throttled:
            event.throttles += 1
            backoff = self.policy.throttle_backoff(event.throttles)
            # Come back no later than just past the age limit, to report it on time.
            self._later(min(backoff, max_age - age + 0.01), event)
            return

        event.executions += 1
        event.last_result = result
        if result.function_error is None:
            self._finish(event, "Success", config)
        elif event.executions > config.get("MaximumRetryAttempts", DEFAULT_MAX_RETRIES):
            self._finish(event, "RetriesExhausted", config)
        else:
            self._later(self.policy.retry_delay(event.executions), event)
