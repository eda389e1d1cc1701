"""Runs Lambda functions for real: the hook on ``moto.awslambda.models.LambdaFunction.invoke``.

Every invoke path in moto ends in that method, so replacing it is enough to execute handlers;
SNS, S3 and EventBridge are sent to the asynchronous queue instead (``service_events``), as on
AWS. ``install()`` also replaces the
Invoke API's response method (moto reads the wrong query parameter for ``Qualifier`` and knows
nothing of payload limits) and fixes the configuration moto drops (see ``moto_fixes``).

Each invocation runs in an execution environment (``execution``) taken warm from the pool
(``environments``) or started cold.
"""

import base64
import json
import os
import re
import secrets
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from uuid import uuid4

from moto.awslambda.exceptions import LambdaClientError
from moto.awslambda.models import LambdaBackend, LambdaFunction, lambda_backends

from sandbox import code_cache, metrics, moto_fixes, service_events
from sandbox.async_queue import AsyncEvent, AsyncPolicy, AsyncQueue, reserved_concurrency
from sandbox.concurrency import InFlight
from sandbox.destinations import Deliverer
from sandbox.environments import EnvironmentPool
from sandbox.errors import TooManyRequestsException
from sandbox.execution import (
    ExecutionEnvironment,
    LaunchSpec,
    Outcome,
    private_mounts_available,
    python_command,
    runtime_dir,
)
from sandbox.logs import (
    Report,
    execution_log,
    install_filter_patterns,
    new_stream_name,
    split_log,
    tail,
    write_to_cloudwatch,
)
from sandbox.runtime_api import Event

RESPONSE_PAYLOAD_LIMIT = 6 * 1024 * 1024
FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
}
# What Lambda sets for the X-Ray SDK. No daemon listens there: segments sent are dropped.
XRAY_VARIABLES = {
    "AWS_XRAY_DAEMON_ADDRESS": "169.254.79.129:2000",
    "_AWS_XRAY_DAEMON_ADDRESS": "169.254.79.129",
    "_AWS_XRAY_DAEMON_PORT": "2000",
    "AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR",
}


class ServiceException(LambdaClientError):
    code = 500

    def __init__(self, message: str) -> None:
        super().__init__("ServiceException", message)


@dataclass
class InvokeResult:
    request_id: str
    executed_version: str
    payload: str = ""
    function_error: str | None = None  # "Unhandled" when the function failed
    error_message: str | None = None
    log_lines: tuple[str, ...] = ()
    throttled: bool = False
    zero_concurrency: bool = False  # throttled because reserved concurrency is 0
    duration_ms: float | None = None  # the handler's own time, for the Duration metric


class Runner:
    """The state of one sandbox: warm environments, in-flight counts and the async queue."""

    def __init__(
        self, endpoint_url: str, retry_delays: tuple[float, ...], idle_ttl_s: float | None = None
    ) -> None:
        self.endpoint_url = endpoint_url
        self.in_flight = InFlight()
        self.environments = EnvironmentPool() if idle_ttl_s is None else EnvironmentPool(idle_ttl_s)
        self.deliverer = Deliverer(endpoint_url)
        self.async_queue = AsyncQueue(
            attempt=self._attempt_async,
            finish=self.deliverer.deliver,
            policy=AsyncPolicy(retry_delays),
        )

    def invoke(
        self,
        function: LambdaFunction,
        body,
        request_headers,
        response_headers: dict,
        invoked_arn: str | None = None,
    ) -> bytes:
        """Replaces ``LambdaFunction.invoke``: the signature and return value are moto's, plus
        the ARN the caller named (an alias ARN when invoked through an alias)."""
        invocation_type = _header(request_headers, "x-amz-invocation-type") or "RequestResponse"
        payload = _as_text(body) or "{}"
        request_id = str(uuid4())
        response_headers["x-amzn-requestid"] = request_id

        if invocation_type == "DryRun":
            return b""
        if invocation_type == "Event":
            self.submit_event(function, payload, invoked_arn, request_id)
            return b""

        client_context = _client_context(_header(request_headers, "x-amz-client-context"))
        result = self.run(function, payload, request_id, invoked_arn, client_context)
        if result.throttled:
            raise TooManyRequestsException()
        response_headers["x-amz-executed-version"] = result.executed_version
        response_headers["x-amz-log-result"] = tail(list(result.log_lines))
        if result.function_error:
            response_headers["x-amz-function-error"] = result.function_error
        return result.payload.encode("utf-8")

    def submit_event(
        self,
        function: LambdaFunction,
        payload: str,
        invoked_arn: str | None = None,
        request_id: str | None = None,
    ) -> str:
        """Queues one asynchronous invocation (an ``Event`` call, or an event from SNS, S3 or
        EventBridge); returns its request ID."""
        request_id = request_id or str(uuid4())
        metrics.record(function, "AsyncEventsReceived", 1, invoked_arn=invoked_arn)
        self.async_queue.submit(AsyncEvent(function, payload, request_id, invoked_arn))
        return request_id

    def run(
        self,
        function: LambdaFunction,
        payload: str,
        request_id: str,
        invoked_arn: str | None = None,
        client_context: str | None = None,
    ) -> InvokeResult:
        """One execution of the handler, unless reserved concurrency throttles it."""
        version = str(function.version)
        function_key = f"{function.account_id}:{function.region}:{function.function_name}"
        reserved = reserved_concurrency(function)
        if not self.in_flight.try_enter(function_key, reserved):
            result = InvokeResult(
                request_id, version, throttled=True, zero_concurrency=reserved == 0
            )
            concurrent = 0
        else:
            concurrent = self.in_flight.running(function_key)
            try:
                result = self._execute(
                    function, payload, request_id, version, invoked_arn, client_context
                )
            finally:
                self.in_flight.leave(function_key)
        # Every invocation ends here, run or throttled: what the metrics count.
        metrics.record_invocation(
            function,
            executed_version=result.executed_version,
            duration_ms=result.duration_ms,
            error=result.function_error is not None,
            throttled=result.throttled,
            concurrent=concurrent,
            invoked_arn=invoked_arn,
        )
        return result

    def stop(self) -> None:
        self.async_queue.stop()
        self.environments.close_all()

    def _attempt_async(self, event: AsyncEvent) -> InvokeResult:
        return self.run(event.function, event.payload, event.request_id, event.invoked_arn)

    def _execute(
        self,
        function: LambdaFunction,
        payload: str,
        request_id: str,
        version: str,
        invoked_arn: str | None,
        client_context: str | None,
    ) -> InvokeResult:
        if getattr(function, "package_type", "Zip") == "Image":
            error = {
                "errorType": "Sandbox.NotEmulated",
                "errorMessage": f"RequestId: {request_id} Error: The sandbox does not run "
                "container image functions (PackageType Image)",
            }
            return _failed(request_id, version, error)
        key = _environment_key(function, version)
        environment = self.environments.acquire(key)
        cold = environment is None
        task_root = code_cache.task_root(function.code_digest, function.code_bytes)
        if cold:
            stream = new_stream_name(version)
            tmp_dir = code_cache.new_tmp_dir()
            launch = self._launch_spec(function, version, task_root, stream, tmp_dir)
            if isinstance(launch, dict):  # the runtime cannot even start
                shutil.rmtree(tmp_dir, ignore_errors=True)
                launch["errorMessage"] = f"RequestId: {request_id} Error: {launch['errorMessage']}"
                return _failed(request_id, version, launch)
            environment = ExecutionEnvironment(launch, stream, tmp_dir)
            if not self.environments.add(environment, key):
                environment.close()
                raise ServiceException("the sandbox is stopping")
            try:
                environment.start()
            except OSError as error:  # a bootstrap that cannot be executed
                self.environments.discard(environment)
                message = f"RequestId: {request_id} Error: fork/exec /var/task/bootstrap: {error}"
                error_payload = {"errorType": "Runtime.InvalidEntrypoint", "errorMessage": message}
                return _failed(request_id, version, error_payload)

        timeout_s = float(function.timeout)
        event = Event(
            request_id=request_id,
            payload=payload.encode("utf-8"),
            deadline_ms=int(time.time() * 1000 + timeout_s * 1000),
            invoked_function_arn=invoked_arn or function.function_arn,
            client_context=client_context,
            trace_id=_trace_id(),
        )
        outcome = environment.invoke(event, timeout_s)
        if outcome.kind in ("response", "error"):
            self.environments.release(key, environment)
        else:
            self.environments.discard(environment)

        task_path = str(task_root)
        result = _interpret(outcome, request_id, version, task_path)
        result.duration_ms = outcome.duration_ms
        report = Report(
            duration_ms=outcome.duration_ms,
            memory_size_mb=int(function.memory_size),
            max_memory_used_mb=outcome.max_rss_mb,
            init_ms=outcome.init_ms,
            timed_out=outcome.kind == "timeout",
            error_type=_REPORTED_ERRORS.get(outcome.kind) or _init_error_type(outcome, result),
        )
        output = outcome.output.replace(task_path, "/var/task")
        if outcome.kind in ("exit", "oom"):
            output += f"\n{result.error_message}\n{report.error_type}"
        lines = execution_log(request_id, version, output, report)
        init_lines = split_log(outcome.init_output.replace(task_path, "/var/task"))
        write_to_cloudwatch(
            function.account_id,
            function.region,
            function.function_name,
            environment.log_stream_name,
            init_lines + lines,
        )
        result.log_lines = tuple(lines)
        metrics.record_embedded(function.account_id, function.region, init_lines + lines)
        return result

    def _launch_spec(
        self, function, version: str, task_root, stream: str, tmp_dir
    ) -> LaunchSpec | dict:
        """How to start the runtime, or the error when there is nothing to start. Where the
        platform allows it, the function sees its code at /var/task and its layers at /opt (a
        private mount namespace); elsewhere at their directories on the host."""
        opt_root = code_cache.layers_root(_layer_contents(function))
        if opt_root is not None and any((opt_root / "extensions").glob("*")):
            return {
                "errorType": "Sandbox.NotEmulated",
                "errorMessage": "The sandbox does not run Lambda extensions, and a layer of "
                "this function has files under /opt/extensions",
            }
        mounts: tuple[tuple[str, str], ...] = ()
        runtime_site = str(code_cache.runtime_site_packages())
        if private_mounts_available():
            opt = str(opt_root) if opt_root is not None else str(code_cache.empty_dir())
            # /tmp last: the directories bound before it live under the host's /tmp.
            mounts = (
                (str(task_root), "/var/task"),
                (opt, "/opt"),
                (runtime_site, "/var/runtime"),
                (str(tmp_dir), "/tmp"),
            )
            seen_task, seen_opt = Path("/var/task"), Path("/opt")
            seen_tmp, runtime_site = "/tmp", "/var/runtime"
        else:
            seen_task, seen_opt, seen_tmp = task_root, opt_root, str(tmp_dir)
        env = self._runtime_environment(function, version, seen_task)
        if seen_opt is not None:
            # Lambda's PATH ends with /opt/bin, and LD_LIBRARY_PATH with the code's and the
            # layers' lib directories.
            env["PATH"] = f"{env['PATH']}{os.pathsep}{seen_opt / 'bin'}"
        env["LD_LIBRARY_PATH"] = os.pathsep.join(
            [str(seen_task), str(seen_task / "lib")]
            + ([str(seen_opt / "lib")] if seen_opt is not None else [])
        )
        env["AWS_LAMBDA_LOG_STREAM_NAME"] = stream
        env["TMPDIR"] = seen_tmp
        runtime = function.run_time or ""
        if runtime.startswith("provided"):
            bootstrap = task_root / "bootstrap"
            if not (bootstrap.is_file() and os.access(bootstrap, os.X_OK)):
                return {
                    "errorType": "Runtime.InvalidEntrypoint",
                    "errorMessage": "Couldn't find valid bootstrap(s): "
                    "[/var/task/bootstrap /opt/bootstrap]",
                }
            command = bootstrap_command(bootstrap, str(seen_task / "bootstrap"))
        else:
            command = python_command(function.handler or "")
            env["PYTHONPATH"] = os.pathsep.join(
                python_path(function.run_time, seen_task, seen_opt) + [runtime_site]
            )
        return LaunchSpec(command, env, str(seen_task), int(function.memory_size), mounts)

    def _runtime_environment(self, function, version: str, task_root) -> dict:
        """The environment variables Lambda sets, over the function's own (the reserved
        names win, as on Lambda)."""
        env = {key: str(value) for key, value in (function.environment_vars or {}).items()}
        env.update(
            {
                "PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
                "LANG": "en_US.UTF-8",
                "TZ": ":UTC",
                "LAMBDA_TASK_ROOT": str(task_root),
                "LAMBDA_RUNTIME_DIR": runtime_dir(),
                "_HANDLER": function.handler or "",
                "AWS_EXECUTION_ENV": f"AWS_Lambda_{function.run_time}",
                "AWS_LAMBDA_FUNCTION_NAME": function.function_name,
                "AWS_LAMBDA_FUNCTION_VERSION": version,
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(function.memory_size),
                "AWS_LAMBDA_LOG_GROUP_NAME": function.logs_group_name,
                "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
                "AWS_REGION": function.region,
                "AWS_DEFAULT_REGION": function.region,
                "AWS_ENDPOINT_URL": self.endpoint_url,
                **FAKE_CREDENTIALS,
                **XRAY_VARIABLES,
            }
        )
        return env


def _layer_contents(function: LambdaFunction) -> list[tuple[str, bytes]]:
    """The function's layers in order, as (digest, zip bytes)."""
    backend = lambda_backends[function.account_id][function.region]
    contents = []
    for layer in function.layers or []:
        version = backend.layers_versions_by_arn(layer["Arn"])
        if version is not None:
            contents.append((version.code_digest, version.code_bytes))
    return contents


def bootstrap_command(host_path: Path, seen_path: str) -> list[str]:
    """How to run a custom runtime's ``bootstrap``. On Amazon Linux 2023 ``/bin/sh`` is bash
    (in POSIX mode, as bash runs when called ``sh``), so a ``#!/bin/sh`` script may use bash's
    features such as ``set -o pipefail``; here ``/bin/sh`` may be dash, so such a script is run
    by bash in POSIX mode. Any other executable runs as it is."""
    try:
        with open(host_path, "rb") as script:
            first_line = script.readline(256)
    except OSError:
        first_line = b""
    bash = shutil.which("bash")
    if bash and re.match(rb"^#!\s*/bin/sh(\s|$)", first_line):
        return [bash, "--posix", seen_path]
    return [seen_path]


def python_path(runtime: str | None, task_root, opt_root) -> list[str]:
    """Lambda's order for a Python function: its code, then its layers' ``python/lib/pythonX.Y/
    site-packages`` and ``python`` (for the version its runtime names), then the runtime's."""
    paths = [str(task_root)]
    if opt_root is not None:
        version = (runtime or "").removeprefix("python") or "{}.{}".format(*sys.version_info)
        paths += [
            str(opt_root / "python" / "lib" / f"python{version}" / "site-packages"),
            str(opt_root / "python"),
        ]
    return paths


_REPORTED_ERRORS = {"exit": "Runtime.ExitError", "oom": "Runtime.OutOfMemory"}


def _environment_key(function: LambdaFunction, version: str) -> tuple:
    """What an environment was built from: any change means a new one, as on Lambda."""
    variables = json.dumps(function.environment_vars or {}, sort_keys=True)
    return (
        function.account_id,
        function.region,
        function.function_name,
        version,
        function.code_digest,
        function.handler,
        function.run_time,
        str(function.memory_size),
        str(function.timeout),
        variables,
        tuple(layer["Arn"] for layer in function.layers or []),
    )


def _trace_id() -> str:
    return (
        f"Root=1-{int(time.time()):08x}-{secrets.token_hex(12)};"
        f"Parent={secrets.token_hex(8)};Sampled=0"
    )


def _init_error_type(outcome: Outcome, result: "InvokeResult") -> str | None:
    if outcome.kind != "init_error":
        return None
    return outcome.error_type or None


def _interpret(outcome: Outcome, request_id: str, version: str, task_root: str) -> InvokeResult:
    """Maps what the environment did to Lambda's response payload and function error."""
    if outcome.kind == "timeout":
        seconds = f"{outcome.duration_ms / 1000:.2f}"
        message = f"RequestId: {request_id} Error: Task timed out after {seconds} seconds"
        return _failed(
            request_id, version, {"errorType": "Sandbox.Timedout", "errorMessage": message}
        )
    if outcome.kind == "response":
        if len(outcome.body) > RESPONSE_PAYLOAD_LIMIT:
            error = {
                "errorMessage": "Response payload size exceeded maximum allowed payload size "
                f"({RESPONSE_PAYLOAD_LIMIT} bytes).",
                "errorType": "Function.ResponseSizeTooLarge",
            }
            return _failed(request_id, version, error)
        return InvokeResult(request_id, version, payload=outcome.body.decode("utf-8", "replace"))
    if outcome.kind in ("error", "init_error"):
        # The runtime's own error document, with the handler's files shown under /var/task.
        text = outcome.body.decode("utf-8", "replace").replace(task_root, "/var/task")
        try:
            message = str(json.loads(text).get("errorMessage", ""))
        except (ValueError, AttributeError):
            message = text
        return InvokeResult(
            request_id, version, payload=text, function_error="Unhandled", error_message=message
        )
    if outcome.kind == "oom":
        reason = "signal: killed"
        error_type = "Runtime.OutOfMemory"
    else:
        status = outcome.exit_status or 0
        reason = f"signal: {_signal_name(-status)}" if status < 0 else f"exit status {status}"
        error_type = "Runtime.ExitError"
    error = {
        "errorType": error_type,
        "errorMessage": f"RequestId: {request_id} Error: Runtime exited with error: {reason}",
    }
    return _failed(request_id, version, error)


def _signal_name(number: int) -> str:
    # Lambda words signals the way Go's os.ProcessState does.
    names = {9: "killed", 15: "terminated", 11: "segmentation fault", 6: "aborted"}
    return names.get(number, str(number))


def _failed(request_id: str, version: str, error: dict) -> InvokeResult:
    return InvokeResult(
        request_id,
        version,
        payload=json.dumps(error),
        function_error="Unhandled",
        error_message=error.get("errorMessage", ""),
    )


def _client_context(encoded: str | None) -> str | None:
    """Invoke's ClientContext is base64 of JSON; the runtime gets the JSON itself (synchronous
    invocations only, as on Lambda)."""
    if not encoded:
        return None
    try:
        return base64.b64decode(encoded, validate=True).decode("utf-8")
    except (ValueError, UnicodeDecodeError):
        return None


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
    service_events.install(runner.submit_event)
    install_filter_patterns()

    def invoke(self, body, request_headers, response_headers, invoked_arn=None):
        return runner.invoke(self, body, request_headers, response_headers, invoked_arn)

    LambdaFunction.invoke = invoke
    _retire_environments_on_change(runner)
    _runner = runner
    return runner


def _retire_environments_on_change(runner: Runner) -> None:
    """Deleting a function (or one version) stops its environments, and updating its code or
    configuration stops those of ``$LATEST``: a function created again under the same name, or
    changed, never meets an old environment and its module state."""
    backend_class = LambdaBackend
    original_delete = backend_class.delete_function
    original_update_code = backend_class.update_function_code
    original_update_configuration = backend_class.update_function_configuration

    def retire(backend, function_name: str, version: str | None) -> None:
        name, _ = moto_fixes.split_qualifier(function_name, None)
        owner = (backend.account_id, backend.region_name, name)
        runner.environments.retire(
            lambda key: key[:3] == owner and (version is None or key[3] == version)
        )

    def delete_function(self, function_name, qualifier=None):
        original_delete(self, function_name, qualifier)
        retire(self, function_name, qualifier)

    def update_function_code(self, function_name, qualifier, body):
        answer = original_update_code(self, function_name, qualifier, body)
        retire(self, function_name, "$LATEST")
        return answer

    def update_function_configuration(self, function_name, qualifier, body):
        answer = original_update_configuration(self, function_name, qualifier, body)
        retire(self, function_name, "$LATEST")
        return answer

    backend_class.delete_function = delete_function
    backend_class.update_function_code = update_function_code
    backend_class.update_function_configuration = update_function_configuration


def uninstall() -> None:
    """Stops the async queue's threads and every environment, and removes the extracted code."""
    global _runner
    if _runner is not None:
        _runner.stop()
    code_cache.cleanup()
