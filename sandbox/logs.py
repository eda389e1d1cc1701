"""The execution log as Lambda writes it (START / output / END / REPORT), its tail for
``LogType=Tail``, and its copy in CloudWatch Logs under ``/aws/lambda/NAME``; and CloudWatch
Logs' filter patterns taught to moto."""

import base64
import math
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from moto.logs import models as logs_models
from moto.logs.exceptions import InvalidParameterException
from moto.logs.models import logs_backends

from sandbox.filter_patterns import InvalidPattern, compile_pattern

TAIL_BYTES = 4096
# moto's logs backend is not thread-safe: two first invocations at once could each create the
# log group, and one would lose its stream.
_cloudwatch_lock = threading.Lock()
_filters_installed = False


@dataclass
class Report:
    duration_ms: float
    memory_size_mb: int
    max_memory_used_mb: int
    init_ms: float | None  # only on a cold start
    timed_out: bool = False
    error_type: str | None = None  # the runtime died (Runtime.ExitError, Runtime.OutOfMemory…)


def execution_log(request_id: str, version: str, output: str, report: Report) -> list[str]:
    """The log of one invocation, one entry per CloudWatch event."""
    lines = [f"START RequestId: {request_id} Version: {version}"]
    lines.extend(split_log(output))
    if report.timed_out:
        lines.append(
            f"{iso_now()} {request_id} Task timed out after {_seconds(report.duration_ms)} seconds"
        )
    lines.append(f"END RequestId: {request_id}")
    lines.append(report_line(request_id, report))
    return lines


def report_line(request_id: str, report: Report) -> str:
    fields = [
        f"REPORT RequestId: {request_id}",
        f"Duration: {report.duration_ms:.2f} ms",
        f"Billed Duration: {max(1, math.ceil(report.duration_ms))} ms",
        f"Memory Size: {report.memory_size_mb} MB",
        f"Max Memory Used: {report.max_memory_used_mb} MB",
    ]
    if report.init_ms is not None:
        fields.append(f"Init Duration: {report.init_ms:.2f} ms")
    if report.timed_out:
        fields.append("Status: timeout")
    elif report.error_type:
        fields.append("Status: error")
        fields.append(f"Error Type: {report.error_type}")
    # Lambda ends the line with a tab too.
    return "\t".join(fields) + "\t"


def split_log(output: str) -> list[str]:
    """One CloudWatch event per line. Only a newline ends one: the Python runtime joins the
    lines of an error's traceback with carriage returns so that it stays one event."""
    if not output:
        return []
    lines = output.split("\n")
    if lines[-1] == "":
        lines.pop()
    return lines


def tail(lines: list[str]) -> str:
    """Base64 of the last 4 KB of the log, cut on bytes like Lambda's LogResult."""
    text = "".join(line + "\n" for line in lines).encode("utf-8")
    return base64.b64encode(text[-TAIL_BYTES:]).decode("ascii")


def write_to_cloudwatch(
    account_id: str, region: str, function_name: str, stream: str, lines: list[str]
) -> None:
    backend = logs_backends[account_id][region]
    group = f"/aws/lambda/{function_name}"
    now_ms = int(time.time() * 1000)  # moto drops events with old timestamps
    events = [{"timestamp": now_ms, "message": line} for line in lines]
    with _cloudwatch_lock:
        backend.ensure_log_group(group)
        backend.ensure_log_stream(group, stream)
        backend.put_log_events(group, stream, events)


def new_stream_name(version: str) -> str:
    from uuid import uuid4

    return f"{datetime.now(UTC):%Y/%m/%d}/[{version}]{uuid4().hex}"


def iso_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _seconds(duration_ms: float) -> str:
    return f"{duration_ms / 1000:.2f}"


class _PatternFilter:
    """What moto's log streams call ``EventMessageFilter``, matching as CloudWatch does."""

    def __init__(self, pattern: str | None) -> None:
        self._matches = compile_pattern(pattern)

    def matches(self, message: str) -> bool:
        return self._matches(message)


def _validated(pattern: str | None) -> None:
    try:
        compile_pattern(pattern)
    except InvalidPattern as error:
        raise InvalidParameterException(msg=f"Invalid filter pattern: {error}") from None


def install_filter_patterns() -> None:
    """FilterLogEvents, PutMetricFilter, PutSubscriptionFilter and Live Tail read filter
    patterns as CloudWatch Logs does (``filter_patterns``); an invalid one is refused with
    ``InvalidParameterException`` before anything is read."""
    global _filters_installed
    if _filters_installed:
        return
    _filters_installed = True
    logs_models.EventMessageFilter = _PatternFilter
    backend_class = logs_models.LogsBackend
    original_filter = backend_class.filter_log_events
    original_metric_filter = backend_class.put_metric_filter
    original_subscription_filter = backend_class.put_subscription_filter

    def filter_log_events(
        self,
        log_group_name,
        log_stream_names,
        start_time,
        end_time,
        limit,
        next_token,
        filter_pattern,
        interleaved,
    ):
        _validated(filter_pattern)
        return original_filter(
            self,
            log_group_name,
            log_stream_names,
            start_time,
            end_time,
            limit,
            next_token,
            filter_pattern,
            interleaved,
        )

    def put_metric_filter(self, filter_name, filter_pattern, *args, **kwargs):
        _validated(filter_pattern)
        return original_metric_filter(self, filter_name, filter_pattern, *args, **kwargs)

    def put_subscription_filter(self, log_group_name, filter_name, filter_pattern, *args, **kwargs):
        _validated(filter_pattern)
        return original_subscription_filter(
            self, log_group_name, filter_name, filter_pattern, *args, **kwargs
        )

    backend_class.filter_log_events = filter_log_events
    backend_class.put_metric_filter = put_metric_filter
    backend_class.put_subscription_filter = put_subscription_filter
