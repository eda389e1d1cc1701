"""What runs inside the subprocess of one invocation: Lambda's Python runtime in miniature.

Run by path (``python runtime_child.py``), so it imports nothing from the sandbox package.
The parent writes one JSON request on stdin. The handler's stdout and stderr both go to the
log pipe (fd 1), as in Lambda; our own messages to the parent go on the original fd 2, one JSON
object a line: ``{"started": ...}`` once the handler is imported, then ``{"result": ...}`` or
``{"error": ...}``.
"""

import importlib
import json
import os
import sys
import time

# logging and traceback are imported only when needed: every import here is paid on every
# invocation, since each one starts a fresh interpreter.


class LambdaContext:
    """The attributes and method of the context object of Lambda's Python runtime."""

    def __init__(self, info: dict, deadline_ms: float) -> None:
        self.function_name = info["function_name"]
        self.function_version = info["function_version"]
        self.invoked_function_arn = info["invoked_function_arn"]
        # The real runtime reads it from the environment, so it is a string there too.
        self.memory_limit_in_mb = str(info["memory_limit_in_mb"])
        self.aws_request_id = info["aws_request_id"]
        self.log_group_name = info["log_group_name"]
        self.log_stream_name = info["log_stream_name"]
        self.identity = None
        self.client_context = None
        self._deadline_ms = deadline_ms

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int(self._deadline_ms - time.time() * 1000))


def _configure_logging(request_id: str) -> None:
    """Same line shape as Lambda's runtime; like it, the root level stays at WARNING. Done only
    when the handler's module imported logging (after its import, which is when it matters)."""
    import logging

    class RequestIdFilter(logging.Filter):
        def filter(self, record: logging.LogRecord) -> bool:
            record.aws_request_id = request_id
            return True

    handler = logging.StreamHandler(sys.stdout)
    formatter = logging.Formatter(
        "[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s",
        "%Y-%m-%dT%H:%M:%S",
    )
    formatter.converter = time.gmtime
    handler.setFormatter(formatter)
    handler.addFilter(RequestIdFilter())
    logging.getLogger().addHandler(handler)


def _error(error_type: str, message: str, request_id: str, stack: list | None = None) -> dict:
    return {
        "errorMessage": message,
        "errorType": error_type,
        "requestId": request_id,
        "stackTrace": stack or [],
    }


def _log_error(error: dict, tb_lines: list[str] | None = None) -> None:
    print(f"[ERROR] {error['errorType']}: {error['errorMessage']}")
    if tb_lines is not None:
        print("Traceback (most recent call last):")
        print("".join(tb_lines), end="")


def _load_handler(handler_spec: str, request_id: str):
    """Returns (handler, None) or (None, error) with Lambda's runtime error types."""
    module_name, _, function_name = handler_spec.rpartition(".")
    module_name = module_name.replace("/", ".")
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:
        message = f"Unable to import module '{module_name}': {exc}"
        return None, _error("Runtime.ImportModuleError", message, request_id)
    handler = getattr(module, function_name, None)
    if handler is None:
        message = f"Handler '{function_name}' missing on module '{module_name}'"
        return None, _error("Runtime.HandlerNotFound", message, request_id)
    return handler, None


def peak_rss_kib() -> int:
    """This interpreter's own high-water mark. getrusage() would include the parent's, which
    Linux carries across fork and exec."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def _as_task_path(lines: list[str], task_root: str) -> list[str]:
    # Lambda shows handler files under /var/task.
    return [line.replace(task_root, "/var/task") for line in lines]


def main() -> None:
    request = json.loads(sys.stdin.buffer.read())
    to_parent = os.fdopen(os.dup(2), "w", buffering=1)
    os.dup2(1, 2)
    sys.stdin = open(os.devnull)  # noqa: SIM115 - lives as long as the process
    sys.stdout.reconfigure(line_buffering=True)
    sys.stderr.reconfigure(line_buffering=True)

    def tell_parent(message: dict) -> None:
        to_parent.write(json.dumps(message) + "\n")
        to_parent.flush()

    info = request["context"]
    request_id = info["aws_request_id"]
    task_root = request["task_root"]
    os.chdir(task_root)
    sys.path.insert(0, task_root)

    init_started = time.perf_counter()
    handler, error = _load_handler(request["handler"], request_id)
    if "logging" in sys.modules:
        _configure_logging(request_id)
    init_ms = (time.perf_counter() - init_started) * 1000
    tell_parent({"started": True, "init_ms": init_ms, "peak_kib": peak_rss_kib()})
    if error is not None:
        _log_error(error)
        tell_parent({"error": error, "duration_ms": 0.0, "peak_kib": peak_rss_kib()})
        return

    context = LambdaContext(info, time.time() * 1000 + request["timeout_s"] * 1000)
    event = json.loads(request["event"])
    handler_started = time.perf_counter()
    try:
        result = handler(event, context)
    except Exception as exc:
        import traceback

        tb = traceback.extract_tb(exc.__traceback__)[1:]  # drop this frame, as Lambda does
        stack = _as_task_path(traceback.format_list(tb), task_root)
        error = _error(type(exc).__name__, str(exc), request_id, stack)
        _log_error(error, stack)
        duration_ms = (time.perf_counter() - handler_started) * 1000
        tell_parent({"error": error, "duration_ms": duration_ms, "peak_kib": peak_rss_kib()})
        return
    duration_ms = (time.perf_counter() - handler_started) * 1000
    try:
        payload = json.dumps(result)
    except (TypeError, ValueError) as exc:
        error = _error("Runtime.MarshalError", f"Unable to marshal response: {exc}", request_id)
        _log_error(error)
        tell_parent({"error": error, "duration_ms": duration_ms, "peak_kib": peak_rss_kib()})
        return
    tell_parent({"result": payload, "duration_ms": duration_ms, "peak_kib": peak_rss_kib()})


if __name__ == "__main__":
    main()
