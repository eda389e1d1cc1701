# Frozen copy of invocations/failures/fingerprints.py as migration 0019 used it: a migration
# must not follow later edits. (The loader skips modules whose names start with "_".)

"""Error fingerprints: which failures belong to the same FailureGroup (one group per bug).

A fingerprint is a sha256 over environment + function + error class + error type + where the
error was raised: the innermost frame of the function's own code in the stack trace (its file
and function name, not its line number, which moves with every edit above it), or, when there is
no stack trace to read, the error message with its variable parts (numbers, IDs, quoted values,
UUIDs, times) replaced by placeholders. So `got 'abc'`, `got None` and `got [1]` raised at one
line are one group, and "order 41 failed" and "order 42 failed" without a trace are one too.

Pure functions, no Django: the poller, the invoke task and tests call them alike.
"""

from __future__ import annotations

import hashlib
import json
import re

# Bumped if the normalisation changes: old and new fingerprints then differ visibly, instead of
# some groups silently splitting.
FINGERPRINT_VERSION = "2"

# Only this much of a message is looked at: the start says what went wrong, and a bound keeps
# the regular expressions cheap on hostile input.
MAX_MESSAGE = 4096
MAX_NORMALISED = 1024

# Classes whose message carries nothing but variable detail ("after 3.00 seconds", a request ID,
# an old or new Lambda wording): one group per function, whatever the message or error type says.
_MESSAGE_FREE_CLASSES = {"timeout", "out_of_memory", "never_ran"}

# Lambda wraps runtime failures as "RequestId: <id> Error: <what>"; a DLQ's ErrorMessage may
# carry only <what>. Dropping the wrapper puts both in one group.
_LAMBDA_PREFIX = re.compile(r"^\s*RequestId:\s*\S+\s+Error:\s*")
# Order matters: the specific patterns run before the plain number one eats their digits.
_PATTERNS = [
    # The account in an ARN; the resource (function, table, queue name) is kept: it matters.
    (re.compile(r"\b(arn:[\w-]+:[\w-]*:[\w-]*:)\d{12}(?=:)"), r"\1<account>"),
    (
        re.compile(
            r"\b\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?"
            r"(?:Z|[+-]\d{2}:?\d{2})?)?(?![\w-])"
        ),
        "<time>",
    ),
    (
        re.compile(
            r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b"
        ),
        "<uuid>",
    ),
    # Quoted values, as Python's repr and JSON write them. The quote must not sit inside a word,
    # so the apostrophe in "can't" does not open a quote.
    (re.compile(r"(?<!\w)'[^'\n]{0,512}'(?!\w)"), "<str>"),
    (re.compile(r'"[^"\n]{0,512}"'), "<str>"),
    (re.compile(r"\b0[xX][0-9a-fA-F]+\b"), "<hex>"),
    # Hex IDs (X-Ray trace parts, object ids, hashes): at least 8 hex digits with one a digit,
    # so that words such as "deadbeef" or "accepted" survive.
    (re.compile(r"\b(?=[a-fA-F]*\d)[0-9a-fA-F]{8,}\b"), "<hex>"),
    # A sign belongs to its number ("got -1" and "got 0" alike), unless it joins two words.
    (re.compile(r"(?:(?<![\w-])-)?\d+(?:\.\d+)*"), "<num>"),
    (re.compile(r"\s+"), " "),
]

_TIMEOUT = re.compile(r"task timed out after", re.IGNORECASE)
_OUT_OF_MEMORY = re.compile(
    r"signal: killed|Runtime\.OutOfMemory|JavaScript heap out of memory|OutOfMemoryError",
    re.IGNORECASE,
)
_OUT_OF_MEMORY_TYPES = {
    "Runtime.OutOfMemory",
    "MemoryError",
    "OutOfMemoryError",
    "java.lang.OutOfMemoryError",
}
_EXIT_ERROR = re.compile(r"Runtime exited with error", re.IGNORECASE)
_IMPORT_TYPES = {
    "Runtime.ImportModuleError",
    "Runtime.HandlerNotFound",
    "Runtime.UserCodeSyntaxError",
}
_IMPORT_ERROR = re.compile(r"Unable to import module|Cannot find module", re.IGNORECASE)
_THROTTLED_TYPES = {"TooManyRequestsException", "Lambda.TooManyRequestsException"}
_THROTTLED = re.compile(
    r"Rate exceeded|TooManyRequestsException|zero reserved concurrent executions", re.IGNORECASE
)


def normalise_message(msg: str) -> str:
    """The message with its variable parts replaced by placeholders, whitespace collapsed."""
    if not isinstance(msg, str):
        return ""
    text = _LAMBDA_PREFIX.sub("", msg[:MAX_MESSAGE])
    for pattern, placeholder in _PATTERNS:
        text = pattern.sub(placeholder, text)
    return text.strip()[:MAX_NORMALISED]


# Frames of the runtime and of installed libraries: not the function's own code.
_FOREIGN_PATHS = re.compile(
    r"(^|/)(site-packages|dist-packages|node_modules)/|^/var/runtime/|^/var/lang/|^node:|"
    r"^internal/|^<frozen |^/opt/(?!python/[^/]+\.py)",
)
# Python: '  File "/var/task/app.py", line 12, in handler' (innermost last).
_PYTHON_FRAME = re.compile(r'^\s*File "([^"\n]{1,500})", line \d+, in ([^\s]{1,200})')
# Node.js, Go as the parser writes it, Java: "at handler (/var/task/index.js:5:11)",
# "main.handle (/var/task/main.go:12)", "com.example.Handler.handle(Handler.java:25)", and the
# anonymous "at /var/task/index.js:5:11" (innermost first).
_CALL_FRAME = re.compile(
    r"^\s*(?:at\s+)?(?:(?:async\s+)?([^\s()/]{1,200})\s*)?\(?((?:file://)?[^\s():]{1,500})"
    r"(?::\d+){1,2}\)?\s*$"
)
MAX_FRAMES = 200


def own_frame(stack_trace: str) -> tuple[str, str] | None:
    """(file, function) of the innermost frame of the function's own code, or None when the
    trace has none (no trace, or only the runtime's and libraries' frames)."""
    if not isinstance(stack_trace, str) or not stack_trace.strip():
        return None
    lines = stack_trace[: MAX_MESSAGE * 4].splitlines()[: MAX_FRAMES * 2]
    python = [m for m in map(_PYTHON_FRAME.match, lines) if m]
    if python:
        frames = [(m.group(1), m.group(2)) for m in reversed(python)]
    else:
        frames = []
        for line in lines:
            found = _CALL_FRAME.match(line)
            if found:
                path = found.group(2).removeprefix("file://")
                frames.append((path, found.group(1) or "<anonymous>"))
    for path, function in frames:
        if not _FOREIGN_PATHS.search(path):
            return path.removeprefix("/var/task/"), function
    return None


def title_message(message: str, limit: int = 120) -> str:
    """The message as a group's title shows it: its variable parts as "…"."""
    text = re.sub(r"<(num|str|uuid|time|hex|account)>", "…", normalise_message(message))
    text = re.sub(r"…(?:[\s,.-]*…)+", "…", text)
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def classify(error_type: str, error_message: str, condition: str = "", kind: str = "") -> str:
    """The built-in class of a failure, the first that matches:

    "timeout", "out_of_memory", "exit_error", "import_error", "never_ran" (throttled,
    ZeroReservedConcurrency, or EventAgeExceeded without any error: the function did not run),
    "dlq_message" (a DLQ message, which has only an ErrorMessage), else "error".
    """
    error_type = (error_type or "").strip()
    message = (error_message or "")[:MAX_MESSAGE]
    if error_type == "Sandbox.Timedout" or _TIMEOUT.search(message):
        return "timeout"
    if error_type in _OUT_OF_MEMORY_TYPES or _OUT_OF_MEMORY.search(message):
        return "out_of_memory"
    if error_type == "Runtime.ExitError" or _EXIT_ERROR.search(message):
        return "exit_error"
    if error_type in _IMPORT_TYPES or _IMPORT_ERROR.search(message):
        return "import_error"
    if error_type in _THROTTLED_TYPES or _THROTTLED.search(message):
        return "never_ran"
    # An EventAgeExceeded record with an error did run (and failed, then ran out of time to be
    # retried): it groups with that error rather than as "never ran".
    if condition == "EventAgeExceeded" and not error_type and not message.strip():
        return "never_ran"
    if condition == "ZeroReservedConcurrency":  # Lambda did not even try
        return "never_ran"
    if kind == "dlq" and not error_type:
        return "dlq_message"
    return "error"


def fingerprint(
    environment: str,
    function_name: str,
    error_type: str,
    error_message: str,
    condition: str = "",
    kind: str = "",
    stack_trace: str = "",
) -> str:
    """A stable sha256 hex digest naming the failure's group."""
    failure_class = classify(error_type, error_message, condition, kind)
    frame = own_frame(stack_trace) if failure_class == "error" else None
    if failure_class in _MESSAGE_FREE_CLASSES:
        error_type, message = "", ""
    elif frame is not None:
        # Where it was raised says which bug it is; the message varies with the input.
        error_type, message = (error_type or "").strip(), "at {} in {}".format(*frame)
    elif failure_class == "error":
        error_type, message = (error_type or "").strip(), normalise_message(error_message)
    else:
        # The class already names the error type (Runtime.ExitError, ...), and a DLQ message
        # has none: leaving it out groups a DLQ message with the same failure's record.
        error_type, message = "", normalise_message(error_message)
    parts = [FINGERPRINT_VERSION, environment or "", function_name or "", failure_class]
    parts += [error_type, message]
    # JSON keeps the parts apart: ("a", "bc") and ("ab", "c") never hash alike.
    data = json.dumps(parts, ensure_ascii=False).encode("utf-8", "surrogatepass")
    return hashlib.sha256(data).hexdigest()
