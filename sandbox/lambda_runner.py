"""Runs Lambda functions for real: the hook on ``moto.awslambda.models.LambdaFunction.invoke``.

Every invoke path in moto (the Invoke API, SNS, event source mappings, S3, EventBridge) ends in
that method, so replacing it is enough to execute handlers. ``install()`` also replaces the
Invoke API's response method (moto reads the wrong query parameter for ``Qualifier`` and knows
nothing of payload limits) and fixes the configuration moto drops (see ``moto_fixes``).
"""

import json
import os
from dataclasses import dataclass
from uuid import uuid4

from moto.awslambda.models import LambdaFunction, lambda_backends

from sandbox import code_cache, metrics, moto_fixes
from sandbox.async_queue import AsyncEvent, AsyncPolicy, AsyncQueue
from sandbox.concurrency import InFlight
from sandbox.destinations import Deliverer
from sandbox.environments import EnvironmentPool
from sandbox.errors import TooManyRequestsException
from sandbox.execution import ChildOutcome, run_child
from sandbox.logs import Report, execution_log, tail, write_to_cloudwatch

RESPONSE_PAYLOAD_LIMIT = 6 * 1024 * 1024
FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
}


@dataclass
class InvokeResult:
    request_id: str
    executed_version: str
    payload: str = ""
    function_error: str | None = None  # "Unhandled" when the function failed
    error_message: str | None = None
    log_lines: tuple[str, ...] = ()
    throttled: bool = False
    duration_ms: float | None = None  # the handler's own time, for the Duration metric


class Runner:
    """The state of one sandbox: warm environments, in-flight counts and the async queue."""

    def __init__(self, endpoint_url: str, retry_delays: tuple[float, ...]) -> None:
        self.endpoint_url = endpoint_url
        self.in_flight = InFlight()
        self.environments = EnvironmentPool()
        self.deliverer = Deliverer(endpoint_url)
        self.async_queue = AsyncQueue(
            attempt=self._attempt_async,
            finish=self.deliverer.deliver,
            policy=AsyncPolicy(retry_delays),
        )

    def invoke(
        self, function: LambdaFunction, body, request_headers, response_headers: dict
    ) -> bytes:
        """Replaces ``LambdaFunction.invoke``: the signature and return value are moto's."""
        invocation_type = _header(request_headers, "x-amz-invocation-type") or "RequestResponse"
        payload = _as_text(body) or "{}"
        request_id = str(uuid4())
        response_headers["x-amzn-requestid"] = request_id

        if invocation_type == "DryRun":
            return b""
        if invocation_type == "Event":
            metrics.record(function, "AsyncEventsReceived", 1)
            self.async_queue.submit(AsyncEvent(function, payload, request_id))
            return b""

        result = self.run(function, payload, request_id)
        if result.throttled:
            raise TooManyRequestsException()
        response_headers["x-amz-executed-version"] = result.executed_version
        response_headers["x-amz-log-result"] = tail(list(result.log_lines))
        if result.function_error:
            response_headers["x-amz-function-error"] = result.function_error
        return result.payload.encode("utf-8")

    def run(self, function: LambdaFunction, payload: str, request_id: str) -> InvokeResult:
        """One execution of the handler, unless reserved concurrency throttles it."""
        version = str(function.version)
        function_key = f"{function.account_id}:{function.region}:{function.function_name}"
        if not self.in_flight.try_enter(function_key, _reserved_concurrency(function)):
            result = InvokeResult(request_id, version, throttled=True)
            concurrent = 0
        else:
            concurrent = self.in_flight.running(function_key)
            try:
                result = self._execute(function, payload, request_id, version)
            finally:
                self.in_flight.leave(function_key)
        metrics.record_invocation(
            function,
            executed_version=result.executed_version,
            duration_ms=result.duration_ms,
            error=result.function_error is not None,
            throttled=result.throttled,
            concurrent=concurrent,
        )
        return result

    def _attempt_async(self, event: AsyncEvent) -> InvokeResult:
        return self.run(event.function, event.payload, event.request_id)

    def _execute(
        self, function: LambdaFunction, payload: str, request_id: str, version: str
    ) -> InvokeResult:
        environment_key = (function.account_id, function.region, function.function_name, version)
        environment, cold = self.environments.acquire(
            (*environment_key, function.code_digest), version
        )
        task_root = code_cache.task_root(function.code_digest, function.code_bytes)
        context = {
            "function_name": function.function_name,
            "function_version": version,
            "invoked_function_arn": function.function_arn,
            "memory_limit_in_mb": function.memory_size,
            "aws_request_id": request_id,
            "log_group_name": function.logs_group_name,
            "log_stream_name": environment.log_stream_name,
        }
        request = {
            "handler": function.handler,
            "task_root": str(task_root),
            "event": payload,
            "context": context,
        }
        env = self._child_environment(function, version, environment.log_stream_name, task_root)
        outcome = run_child(request, env, float(function.timeout))

        result = _interpret(outcome, request_id, version)
        result.duration_ms = outcome.duration_ms
        crashed = outcome.timed_out or (outcome.result is None and outcome.error is None)
        if crashed:
            self.environments.discard(environment)
        else:
            self.environments.release(environment)

        report = Report(
            duration_ms=outcome.duration_ms,
            memory_size_mb=int(function.memory_size),
            max_memory_used_mb=outcome.max_rss_mb,
            init_ms=outcome.init_ms if cold else None,
            timed_out=outcome.timed_out,
        )
        output = outcome.output
        if crashed and not outcome.timed_out:
            output += f"\n{result.error_message}\nRuntime.ExitError"
        lines = execution_log(request_id, version, output, report)
        write_to_cloudwatch(
            function.account_id,
            function.region,
            function.function_name,
            environment.log_stream_name,
            lines,
        )
        result.log_lines = tuple(lines)
        return result

    def _child_environment(self, function, version: str, log_stream: str, task_root) -> dict:
        env = {key: str(value) for key, value in (function.environment_vars or {}).items()}
        env.update(
            {
                "PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
                "LANG": "C.UTF-8",
                "TZ": ":UTC",
                "TMPDIR": str(code_cache.function_tmp_dir()),
                "LAMBDA_TASK_ROOT": str(task_root),
                "_HANDLER": function.handler or "",
                "AWS_EXECUTION_ENV": f"AWS_Lambda_{function.run_time}",
                "AWS_LAMBDA_FUNCTION_NAME": function.function_name,
                "AWS_LAMBDA_FUNCTION_VERSION": version,
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(function.memory_size),
                "AWS_LAMBDA_LOG_GROUP_NAME": function.logs_group_name,
                "AWS_LAMBDA_LOG_STREAM_NAME": log_stream,
                "AWS_REGION": function.region,
                "AWS_DEFAULT_REGION": function.region,
                "AWS_ENDPOINT_URL": self.endpoint_url,
                **FAKE_CREDENTIALS,
            }
        )
        return env


def _interpret(outcome: ChildOutcome, request_id: str, version: str) -> InvokeResult:
    """Maps what the child did to Lambda's response payload and function error."""
    if outcome.timed_out:
        seconds = f"{outcome.duration_ms / 1000:.2f}"
        message = f"RequestId: {request_id} Error: Task timed out after {seconds} seconds"
        error = {"errorType": "Sandbox.Timedout", "errorMessage": message}
        return _failed(request_id, version, error)
    if outcome.error is not None:
        return _failed(request_id, version, outcome.error)
    if outcome.result is not None:
        if len(outcome.result.encode("utf-8")) > RESPONSE_PAYLOAD_LIMIT:
            error = {
                "errorMessage": "Response payload size exceeded maximum allowed payload size "
                f"({RESPONSE_PAYLOAD_LIMIT} bytes).",
                "errorType": "Function.ResponseSizeTooLarge",
            }
            return _failed(request_id, version, error)
        return InvokeResult(request_id, version, payload=outcome.result)
    status = outcome.exit_status
    reason = f"signal: {-status}" if status < 0 else f"exit status {status}"
    error = {
        "errorType": "Runtime.ExitError",
        "errorMessage": f"RequestId: {request_id} Error: Runtime exited with error: {reason}",
    }
    return _failed(request_id, version, error)


def _failed(request_id: str, version: str, error: dict) -> InvokeResult:
    return InvokeResult(
        request_id,
        version,
        payload=json.dumps(error),
        function_error="Unhandled",
        error_message=error.get("errorMessage", ""),
    )


def _reserved_concurrency(function: LambdaFunction) -> int | None:
    # Reserved concurrency is set on $LATEST and applies to every version of the function.
    backend = lambda_backends[function.account_id][function.region]
    latest = backend.get_function(function.function_name)
    reserved = latest.reserved_concurrency
    return None if reserved is None else int(reserved)


def _header(headers, name: str) -> str | None:
    if not headers:
        return None
    if hasattr(headers, "get") and headers.get(name) is not None:
        return headers.get(name)  # werkzeug's headers ignore case
    for key, value in dict(headers).items():
        if key.lower() == name:
            return value
    return None


def _as_text(body) -> str:
    if body is None:
        return ""
    if isinstance(body, bytes):
        return body.decode("utf-8")
    if isinstance(body, str):
        return body
    return json.dumps(body)


_runner: Runner | None = None


def install(endpoint_url: str, retry_delays: tuple[float, ...] = (1.0, 2.0)) -> Runner:
    """Patches moto in this process; returns the runner (idempotent: the first one stays)."""
    global _runner
    if _runner is not None:
        return _runner
    runner = Runner(endpoint_url, tuple(retry_delays))
    moto_fixes.install()
    metrics.install()

    def invoke(self, body, request_headers, response_headers):
        return runner.invoke(self, body, request_headers, response_headers)

    LambdaFunction.invoke = invoke
    _runner = runner
    return runner


def uninstall() -> None:
    """Stops the async queue's threads and removes the extracted code."""
    global _runner
    if _runner is not None:
        _runner.async_queue.stop()
    code_cache.cleanup()
