"""Reading Lambda execution logs: the 4 KB tail an invoke returns, and CloudWatch Logs lines.

Pure functions, no I/O. Everything here comes from a function and is untrusted: it is split and
classified, never marked safe.

A tail looks like::

    START RequestId: 6f1c… Version: $LATEST
    saying hello to world
    END RequestId: 6f1c…
    REPORT RequestId: 6f1c…\tDuration: 12.34 ms\tBilled Duration: 13 ms\tMemory Size: 128 MB\t…

Lambda returns only the last 4 KB, so a long log's tail starts in the middle of a line.
"""

import re
from dataclasses import dataclass, field
from typing import Any

TAIL_LIMIT = 4096
# The tail is the last 4096 bytes; a multi-byte character cut at the start decodes a little
# shorter, so anything this close to the limit that does not begin with START was cut.
_CUT_THRESHOLD = TAIL_LIMIT - 8

META_PREFIXES = (
    "START RequestId:",
    "END RequestId:",
    "REPORT RequestId:",
    "INIT_START",
    "EXTENSION",
)
_ERROR = re.compile(
    r"(\[ERROR\]|^Traceback \(most recent call last\)|^\s+File \"|Task timed out after|"
    r"^\w+(\.\w+)*(Error|Exception)\b|\"errorType\")"
)
# REPORT fields: "Duration: 12.34 ms", "Billed Duration: 13 ms", "Memory Size: 128 MB",
# "Max Memory Used: 40 MB", "Init Duration: 150.00 ms".
_REPORT_FIELDS = {
    "Duration": ("duration_ms", float),
    "Billed Duration": ("billed_duration_ms", int),
    "Memory Size": ("memory_size_mb", int),
    "Max Memory Used": ("max_memory_used_mb", int),
    "Init Duration": ("init_duration_ms", float),
}
_FIELD = re.compile(r"^\s*([A-Za-z ]+?):\s*([0-9]+(?:\.[0-9]+)?)\s*(ms|MB)?\s*$")
_START = re.compile(r"^START RequestId: (\S+)(?: Version: (\S+))?")


@dataclass(frozen=True)
class Line:
    text: str
    kind: str  # "meta", "error", "partial" (cut by the 4 KB limit) or "" (the function's output)


@dataclass
class Tail:
    lines: list[Line] = field(default_factory=list)
    cut: bool = False
    report: dict[str, Any] = field(default_factory=dict)
    request_id: str = ""
    version: str = ""


def classify(text: str) -> str:
    if text.startswith(META_PREFIXES):
        return "meta"
    if _ERROR.search(text):
        return "error"
    return ""


def parse_report(line: str) -> dict[str, Any]:
    """The figures of one REPORT line, as Invocation field names; {} if it is not one."""
    if not line.startswith("REPORT RequestId:"):
        return {}
    figures = {}
    for part in line.split("\t")[1:]:
        match = _FIELD.match(part)
        if not match or match.group(1) not in _REPORT_FIELDS:
            continue
        name, cast = _REPORT_FIELDS[match.group(1)]
        try:
            figures[name] = cast(float(match.group(2))) if cast is int else cast(match.group(2))
        except ValueError:
            continue
    return figures


def is_cut(text: str) -> bool:
    """Did Lambda's 4 KB limit cut the start of this tail?"""
    return len(text.encode("utf-8")) >= _CUT_THRESHOLD and not text.startswith("START ")


def parse_tail(text: str) -> Tail:
    """Split a decoded log tail into classified lines and read its START and REPORT lines."""
    tail = Tail(cut=is_cut(text))
    raw_lines = text.splitlines()
    for index, raw in enumerate(raw_lines):
        if index == 0 and tail.cut:
            # The first line is a fragment: never read figures or a request ID from it.
            tail.lines.append(Line(raw, "partial"))
            continue
        tail.lines.append(Line(raw, classify(raw)))
        start = _START.match(raw)
        if start:
            tail.request_id = start.group(1)
            tail.version = start.group(2) or ""
        report = parse_report(raw)
        if report:
            tail.report = report
    return tail


def lines_of(messages: list[str]) -> list[Line]:
    """CloudWatch Logs events (one message may hold several lines) as classified lines."""
    result = []
    for message in messages:
        for raw in message.rstrip("\n").splitlines() or [""]:
            result.append(Line(raw, classify(raw)))
    return result
