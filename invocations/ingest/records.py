"""Parse SQS messages from Lambda destination queues and dead-letter queues.

Pure functions: a message body and its attributes in, one `ParsedRecord` out. No I/O and no
Django, so the parser can be tested and fuzzed on its own against every shape AWS writes.

`parse_message` never raises. A message that cannot be parsed is stored as `unparsed` with its
reason and raw body, and deleted like any other (never dropped, never re-read forever), so an
exception here would either lose the message or make the poller read it forever.

Guarantees the poller can rely on:

- `kind` is one of `KINDS`; `parse_error` is non-empty exactly when `kind == "unparsed"`.
- Every string field is free of NUL characters and lone surrogates (PostgreSQL refuses both) and
  no longer than its `MAX_...` bound below, which is the width of its ExecutionRecord column.
- `request_payload`, `response_payload` and `batch_info` are plain JSON values (dict, list, str,
  int, float, bool, None) that `json.dumps` writes as strict JSON and PostgreSQL's jsonb accepts:
  no NaN or Infinity, no NUL, no lone surrogates, nested at most `MAX_JSON_DEPTH` levels.
  A payload that breaks one of these rules is dropped (`has_..._payload` False) with a warning;
  the raw body, which the poller always keeps, still has it.
- The invoke count and status code are in 0..32767 (PositiveSmallIntegerField), the DLQ error
  code fits 32 bits; anything else becomes None with a warning.
- `warnings` lists what was ignored or coerced in a record that did parse.
"""

from __future__ import annotations

import base64
import json
import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from invocations.shared.text import storable, unstorable

KINDS = ("success", "failure", "dlq", "stream_failure", "unparsed")

# Bounds on text fields, in characters: the widths of ExecutionRecord's columns. PostgreSQL
# refuses a longer value, and a record that cannot be saved would be read from the queue forever.
MAX_CONDITION = 40  # the longest AWS writes is "RetryAttemptsExhausted"
MAX_REQUEST_ID = 64  # a UUID: 36
MAX_ARN = 300  # a function ARN with a qualifier is at most 170
MAX_FUNCTION_NAME = 140  # what function_name_from_arn accepts
MAX_QUALIFIER = 128
MAX_VERSION = 32  # executed_version: "$LATEST" or a number
MAX_FUNCTION_ERROR = 20  # "Handled" or "Unhandled"
MAX_SHORT = 256  # error_type
MAX_TEXT = 8 * 1024  # error_message (a DLQ ErrorMessage is at most 1 KB anyway)
MAX_STACK_TRACE = 64 * 1024
MAX_PARSE_ERROR = 1024

# SQS messages are at most 1 MiB, so a body larger than this did not come from SQS as it is. We
# still parse it (to classify it), but keep no payload copies: the raw body is stored anyway, and
# copying megabytes twice into the same row helps nobody.
MAX_BODY_BYTES_WITH_PAYLOADS = 1_200_000
# Beyond this we do not even parse: it bounds the poller's memory and time per message.
MAX_BODY_BYTES = 8 * 1024 * 1024
# Real events are rarely deeper than a dozen levels; anything beyond this is hostile or broken
# and would hit recursion limits in json.dumps, templates or the database.
MAX_JSON_DEPTH = 100

# Invoke counts and status codes go into PositiveSmallIntegerField; the DLQ ErrorCode into an
# IntegerField.
_SMALL_RANGE = (0, 32767)
_INT_RANGE = (-(2**31), 2**31 - 1)

# The message attributes Lambda puts on a dead letter (the body is the original event).
_DLQ_ATTRIBUTES = ("RequestID", "ErrorCode", "ErrorMessage")

_FUNCTION_NAME = re.compile(rf"[A-Za-z0-9_-]{{1,{MAX_FUNCTION_NAME}}}")
_INTEGER_TEXT = re.compile(r"\s*-?\d{1,12}\s*")
_QUALIFIER = re.compile(rf"\$LATEST|[A-Za-z0-9_-]{{1,{MAX_QUALIFIER}}}")


@dataclass(frozen=True)
class ParsedRecord:
    kind: str  # one of KINDS
    # Success, RetriesExhausted, EventAgeExceeded, ZeroReservedConcurrency, RetryAttemptsExhausted
    condition: str = ""
    request_id: str = ""
    function_arn: str = ""  # as received: qualified or not
    function_name: str = ""  # from the ARN; empty for a DLQ message (the queue knows it)
    qualifier: str = ""  # from the ARN: "$LATEST", "7", "prod", or ""
    executed_version: str = ""  # from responseContext
    approximate_invoke_count: int | None = None
    status_code: int | None = None
    function_error: str = ""  # "Handled", "Unhandled" or ""
    error_type: str = ""  # at most MAX_SHORT
    error_message: str = ""  # at most MAX_TEXT
    stack_trace: str = ""  # one frame a line, at most MAX_STACK_TRACE
    request_payload: Any = None
    response_payload: Any = None
    # A payload can be JSON null, so these say whether the payload was there at all: False when
    # the function never answered, when Lambda dropped the payload as too large, or when we did.
    has_request_payload: bool = False
    has_response_payload: bool = False
    record_timestamp: datetime | None = None  # aware, UTC
    envelope: str = ""  # "", "sns" or "eventbridge"
    batch_info: dict[str, Any] | None = (
        None  # {"KinesisBatchInfo": {...}} and the like, stream failures
    )
    dlq_error_code: int | None = None  # a DLQ message's ErrorCode attribute
    parse_error: str = ""  # why the message is unparsed; empty otherwise
    warnings: tuple[str, ...] = ()


def parse_message(
    body: str | bytes,
    message_attributes: dict[str, Any] | None,
    queue_kind: str,
    *,
    system_attributes: dict[str, Any] | None = None,
) -> ParsedRecord:
    """Turn one SQS message into a record; never raises.

    `message_attributes` is ReceiveMessage's `MessageAttributes`; `queue_kind` is "destination"
    or "dlq" (anything else is treated as "destination"). `system_attributes` is the optional
    `Attributes` dict: its `SentTimestamp` dates a DLQ message, whose body carries no time.
    """
    try:
        return _parse(body, message_attributes, queue_kind, system_attributes)
    except Exception as exc:  # the last line of defence, see the module docstring
        return _unparsed(f"internal parser error: {type(exc).__name__}: {exc}")


def function_name_from_arn(arn: str) -> tuple[str, str]:
    """(name, qualifier) from a function ARN, a partial ARN or a name; ("", "") if none of them.

    Accepts `arn:aws:lambda:us-east-1:123456789012:function:orders[:qualifier]`, the partial
    `123456789012:function:orders[:qualifier]` and `orders[:qualifier]`, as Lambda's API does.
    """
    if not isinstance(arn, str) or len(arn) > MAX_ARN:
        return "", ""
    parts = arn.strip().split(":")
    if parts[0] == "arn":
        if len(parts) < 7 or parts[2] != "lambda" or parts[5] != "function":
            return "", ""
        rest = parts[6:]
    elif len(parts) >= 3 and parts[1] == "function":
        rest = parts[2:]
    else:
        rest = parts
    if len(rest) > 2:
        return "", ""
    name, qualifier = rest[0], (rest[1] if len(rest) == 2 else "")
    if not _FUNCTION_NAME.fullmatch(name) or (qualifier and not _QUALIFIER.fullmatch(qualifier)):
        return "", ""
    return name, qualifier


def attributes_for_storage(message_attributes: dict[str, Any] | None) -> dict[str, Any]:
    """A JSON-safe copy of ReceiveMessage's MessageAttributes, for the raw-attributes column.

    boto3 gives BinaryValue as bytes, which a JSONField cannot hold: it is stored base64-encoded.
    """
    if not isinstance(message_attributes, dict):
        return {}
    stored = {}
    for name, value in message_attributes.items():
        if not isinstance(name, str) or not isinstance(value, dict):
            continue
        entry = {}
        for key, item in value.items():
            if not isinstance(key, str):
                continue
            if isinstance(item, bytes | bytearray):
                entry[key] = base64.b64encode(bytes(item)).decode("ascii")
            elif isinstance(item, str):
                entry[key] = storable(item, MAX_TEXT)
        stored[storable(name, MAX_SHORT)] = entry
    return stored


# The parse, step by step.


class _NotJson:
    """Stands for a body (or SNS Message) that is text but not JSON."""

    def __init__(self, reason: str) -> None:
        self.reason = reason


def _parse(
    body: str | bytes,
    message_attributes: dict[str, Any] | None,
    queue_kind: str,
    system_attributes: dict[str, Any] | None,
) -> ParsedRecord:
    text, size, reason = _decode(body)
    sqs_attributes = _attribute_strings(message_attributes, "StringValue", "BinaryValue")
    if reason:
        # Still worth linking to its invocation, if it is a dead letter.
        request_id = storable(sqs_attributes.get("RequestID", ""), MAX_REQUEST_ID)
        return _unparsed(reason, request_id=request_id)

    warnings: list[str] = []
    keep_payloads = size <= MAX_BODY_BYTES_WITH_PAYLOADS
    plain = _plainly_storable(text)
    if not keep_payloads:
        warnings.append(f"payloads not kept: body is {size} bytes; see the raw body")
    value = _load_json(text)

    # Lambda puts these attributes only on dead-letter messages, so they decide before the
    # body's shape does: the event that failed may itself look like a destination record.
    if _has_dlq_attributes(sqs_attributes):
        sent = _epoch_millis((system_attributes or {}).get("SentTimestamp"), warnings)
        return _dlq_record(value, sqs_attributes, "", sent, keep_payloads, warnings, plain)

    if isinstance(value, _NotJson):
        if queue_kind == "dlq":
            sent = _epoch_millis((system_attributes or {}).get("SentTimestamp"), warnings)
            return _dlq_record(value, sqs_attributes, "", sent, keep_payloads, warnings, plain)
        return _unparsed(value.reason)
    if not plain and _depth_exceeds(value, MAX_JSON_DEPTH):
        return _unparsed(f"JSON nested deeper than {MAX_JSON_DEPTH} levels")

    envelope, envelope_time, envelope_attributes = "", None, {}
    if _is_sns_notification(value):
        envelope = "sns"
        envelope_time = _timestamp(value.get("Timestamp"), "SNS Timestamp", warnings)
        envelope_attributes = _attribute_strings(value.get("MessageAttributes"), "Value")
        value = _load_json(value["Message"])
        if isinstance(value, _NotJson):
            value.reason = f"SNS Message: {value.reason}"
        elif not plain and _depth_exceeds(value, MAX_JSON_DEPTH):
            return _unparsed(f"SNS Message: JSON nested deeper than {MAX_JSON_DEPTH} levels")
        # A DLQ that is an SNS topic: the attributes travel in the envelope.
        if _has_dlq_attributes(envelope_attributes):
            return _dlq_record(
                value, envelope_attributes, envelope, envelope_time, keep_payloads, warnings, plain
            )
    elif _is_eventbridge_result(value):
        envelope = "eventbridge"
        value = value["detail"]

    if isinstance(value, dict) and "requestContext" in value:
        return _invocation_record(value, envelope, keep_payloads, warnings, plain)
    if queue_kind == "dlq":
        warnings.append("no RequestID, ErrorCode or ErrorMessage attribute")
        return _dlq_record(value, {}, envelope, envelope_time, keep_payloads, warnings, plain)
    if isinstance(value, _NotJson):
        return _unparsed(value.reason)
    return _unparsed(_unknown_shape(value, envelope))


def _decode(body: str | bytes) -> tuple[str, int, str]:
    """(text, size in bytes, reason it is unusable)."""
    if isinstance(body, bytes | bytearray | memoryview):
        raw = bytes(body)
        if len(raw) > MAX_BODY_BYTES:
            return "", len(raw), f"body is {len(raw)} bytes, over the {MAX_BODY_BYTES} we parse"
        try:
            return raw.decode("utf-8"), len(raw), ""
        except UnicodeDecodeError as exc:
            return "", len(raw), f"body is not UTF-8 text (invalid byte at offset {exc.start})"
    if isinstance(body, str):
        if len(body) > MAX_BODY_BYTES:  # at least as many bytes as characters
            return "", len(body), f"body is over {MAX_BODY_BYTES} bytes, over what we parse"
        size = len(body.encode("utf-8", "surrogatepass"))
        if size > MAX_BODY_BYTES:
            return "", size, f"body is {size} bytes, over the {MAX_BODY_BYTES} we parse"
        return body, size, ""
    return "", 0, f"body is a {type(body).__name__}, not text"


def _reject_constant(name: str) -> float:
    raise ValueError(f"{name} is not JSON")


def _finite_float(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise ValueError(f"number {text[:40]} is out of range")
    return number


def _load_json(text: str) -> Any:
    """Strict JSON (no NaN / Infinity, no out-of-range numbers), or a _NotJson with the reason."""
    if not isinstance(text, str):
        return _NotJson(f"expected JSON text, found {_json_type(text)}")
    try:
        return json.loads(text, parse_constant=_reject_constant, parse_float=_finite_float)
    except RecursionError:
        return _NotJson("JSON nested too deeply to parse")
    except ValueError as exc:  # JSONDecodeError, our own rejections, too many integer digits
        return _NotJson(f"body is not JSON: {str(exc)[:200]}")


def _is_sns_notification(value: Any) -> bool:
    return (
        isinstance(value, dict)
        and value.get("Type") == "Notification"
        and isinstance(value.get("Message"), str)
        and "TopicArn" in value
    )


def _is_eventbridge_result(value: Any) -> bool:
    return (
        isinstance(value, dict)
        and value.get("source") in ("lambda", "aws.lambda")
        and isinstance(value.get("detail-type"), str)
        and value["detail-type"].startswith("Lambda Function Invocation Result")
        and isinstance(value.get("detail"), dict)
    )


def _unknown_shape(value: Any, envelope: str) -> str:
    where = {"sns": "SNS Message", "eventbridge": "EventBridge detail"}.get(envelope, "body")
    if isinstance(value, dict):
        keys = ", ".join(sorted(str(key)[:40] for key in list(value)[:10]))
        found = f"an object with keys: {keys}" if keys else "an empty object"
    else:
        found = _json_type(value)
    return f"{where} is JSON of an unknown shape (no requestContext): {found}"


def _invocation_record(
    record: dict[str, Any], envelope: str, keep_payloads: bool, warnings: list[str], plain: bool
) -> ParsedRecord:
    """A destination record or a stream failure record (both carry a requestContext)."""
    context = record["requestContext"]
    if not isinstance(context, dict):
        return _unparsed(f"requestContext is {_json_type(context)}, not an object")
    condition = context.get("condition")
    if not isinstance(condition, str) or not condition.strip():
        return _unparsed("requestContext.condition is missing or not a string")

    function_arn = _text(context, "functionArn", MAX_ARN, warnings)
    function_name, qualifier = function_name_from_arn(function_arn)
    if function_arn and not function_name:
        warnings.append("requestContext.functionArn is not a Lambda function ARN")

    response = record.get("responseContext")
    if response is not None and not isinstance(response, dict):
        warnings.append(f"responseContext is {_json_type(response)}, ignored")
    response = response if isinstance(response, dict) else {}
    function_error = _text(
        response, "functionError", MAX_FUNCTION_ERROR, warnings, "responseContext."
    )

    batch_info = _batch_info(record, warnings, plain)
    if batch_info is not None:
        kind = "stream_failure"
    else:
        kind = "success" if condition == "Success" else "failure"

    request = _payload(record, "requestPayload", keep_payloads, warnings, plain)
    answer = _payload(record, "responsePayload", keep_payloads, warnings, plain)
    error_type = error_message = stack_trace = ""
    # Lambda drops a payload that is too large, so the error text is read from the record itself
    # even when we chose not to keep the payload.
    raw_answer = record.get("responsePayload")
    if function_error or (kind != "success" and _looks_like_error(raw_answer)):
        error_type, error_message, stack_trace = _error_from_payload(raw_answer)

    return ParsedRecord(
        kind=kind,
        condition=storable(condition, MAX_CONDITION),
        request_id=_text(context, "requestId", MAX_REQUEST_ID, warnings, "requestContext."),
        function_arn=function_arn,
        function_name=function_name,
        qualifier=qualifier,
        executed_version=_text(response, "executedVersion", MAX_VERSION, warnings),
        approximate_invoke_count=_int(context, "approximateInvokeCount", _SMALL_RANGE, warnings),
        status_code=_int(response, "statusCode", _SMALL_RANGE, warnings),
        function_error=function_error,
        error_type=error_type,
        error_message=error_message,
        stack_trace=stack_trace,
        request_payload=request[1],
        response_payload=answer[1],
        has_request_payload=request[0],
        has_response_payload=answer[0],
        record_timestamp=_timestamp(record.get("timestamp"), "timestamp", warnings),
        envelope=envelope,
        batch_info=batch_info,
        warnings=tuple(warnings),
    )


def _dlq_record(
    event: Any,
    attributes: dict[str, str],
    envelope: str,
    sent_at: datetime | None,
    keep_payloads: bool,
    warnings: list[str],
    plain: bool,
) -> ParsedRecord:
    """A dead-letter message: the body is the event that failed, the attributes say why."""
    has_payload, payload = False, None
    if isinstance(event, _NotJson):
        warnings.append(f"{event.reason}; kept in the raw body only")
    elif not keep_payloads:
        pass  # already warned
    elif problem := _storage_problem(event, plain):
        warnings.append(f"event not kept ({problem}); see the raw body")
    else:
        has_payload, payload = True, event
    return ParsedRecord(
        kind="dlq",
        request_id=storable(attributes.get("RequestID", ""), MAX_REQUEST_ID),
        error_message=storable(attributes.get("ErrorMessage", ""), MAX_TEXT),
        dlq_error_code=_int(attributes, "ErrorCode", _INT_RANGE, warnings),
        request_payload=payload,
        has_request_payload=has_payload,
        record_timestamp=sent_at,
        envelope=envelope,
        warnings=tuple(warnings),
    )


def _unparsed(reason: str, **fields: Any) -> ParsedRecord:
    return ParsedRecord(kind="unparsed", parse_error=storable(reason, MAX_PARSE_ERROR), **fields)


# Field helpers: each reads one thing and degrades to a default with a warning, never raises.


def _text(
    source: dict[str, Any], key: str, limit: int, warnings: list[str], prefix: str = ""
) -> str:
    value = source.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        warnings.append(f"{prefix}{key} is {_json_type(value)}, not a string: ignored")
        return ""
    return storable(value, limit)


def _int(
    source: dict[str, Any], key: str, bounds: tuple[int, int], warnings: list[str]
) -> int | None:
    """An integer field; numeric strings ("200", as SQS Number attributes are) are accepted."""
    value = source.get(key)
    if value is None:
        return None
    integral_float = isinstance(value, float) and value.is_integer()
    numeric_text = isinstance(value, str) and _INTEGER_TEXT.fullmatch(value)
    number = None
    if isinstance(value, int) and not isinstance(value, bool):  # JSON true is not 1
        number = value
    elif integral_float or numeric_text:
        number = int(value)
    if number is None or not bounds[0] <= number <= bounds[1]:
        warnings.append(f"{key} is not a usable integer: {_preview(value)}")
        return None
    return number


def _timestamp(value: Any, name: str, warnings: list[str]) -> datetime | None:
    """ISO 8601 ("2026-11-26T15:48:18.521Z") to an aware UTC datetime; None if absent or bad."""
    if value is None:
        return None
    if isinstance(value, str) and len(value) <= 64:
        try:
            parsed = datetime.fromisoformat(value.strip())
            if parsed.tzinfo is None:  # AWS always says Z; a bare time is taken as UTC
                parsed = parsed.replace(tzinfo=UTC)
            return parsed.astimezone(UTC)
        except (ValueError, OverflowError):
            pass
    warnings.append(f"{name} is not an ISO 8601 time: {_preview(value)}")
    return None


def _epoch_millis(value: Any, warnings: list[str]) -> datetime | None:
    """SQS's SentTimestamp (milliseconds since the epoch, as a string)."""
    if value is None:
        return None
    if isinstance(value, str) and re.fullmatch(r"\d{1,15}", value):
        try:
            return datetime.fromtimestamp(int(value) / 1000, tz=UTC)
        except (ValueError, OverflowError, OSError):
            pass
    warnings.append(f"SentTimestamp is not a time: {_preview(value)}")
    return None


def _payload(
    record: dict[str, Any], key: str, keep: bool, warnings: list[str], plain: bool
) -> tuple[bool, Any]:
    """(present, value) of requestPayload / responsePayload."""
    if key not in record or not keep:
        return False, None
    value = record[key]
    if problem := _storage_problem(value, plain):
        warnings.append(f"{key} not kept ({problem}); see the raw body")
        return False, None
    return True, value


def _batch_info(record: dict[str, Any], warnings: list[str], plain: bool) -> dict[str, Any] | None:
    """Every top-level *BatchInfo object: KinesisBatchInfo, DDBStreamBatchInfo, KafkaBatchInfo."""
    found = {}
    for key, value in record.items():
        if isinstance(key, str) and key.endswith("BatchInfo"):
            if not isinstance(value, dict):
                warnings.append(f"{key[:40]} is {_json_type(value)}, not an object")
                continue
            if problem := _storage_problem(value, plain):
                warnings.append(f"{key[:40]} not kept ({problem})")
                value = {}
            found[storable(key, MAX_SHORT)] = value
    return found or None


def _looks_like_error(payload: Any) -> bool:
    return isinstance(payload, dict) and ("errorMessage" in payload or "errorType" in payload)


def _error_from_payload(payload: Any) -> tuple[str, str, str]:
    """(type, message, stack trace) from a function error's response payload.

    Runtimes answer {"errorType", "errorMessage", "stackTrace": [...]} (Python, Java), or
    "trace" instead of "stackTrace" (Node.js); a custom runtime may answer anything at all.
    """
    if payload is None:
        return "", "", ""
    if isinstance(payload, str):
        return "", storable(payload, MAX_TEXT), ""
    if not isinstance(payload, dict):
        return "", storable(_compact_json(payload), MAX_TEXT), ""
    error_type = _loose_text(payload.get("errorType"), MAX_SHORT)
    error_message = _loose_text(payload.get("errorMessage"), MAX_TEXT)
    trace = payload.get("stackTrace", payload.get("trace"))
    return error_type, error_message, _stack_trace(trace)


def _stack_trace(trace: Any) -> str:
    if trace is None:
        return ""
    if isinstance(trace, str):
        return storable(trace, MAX_STACK_TRACE)
    if not isinstance(trace, list):
        return storable(_compact_json(trace), MAX_STACK_TRACE)
    lines, total = [], 0
    for frame in trace:
        line = _frame(frame)
        lines.append(line)
        total += len(line) + 1
        if total > MAX_STACK_TRACE:  # stop early: a hostile trace can have millions of frames
            break
    return storable("\n".join(lines), MAX_STACK_TRACE)


def _frame(frame: Any) -> str:
    """One stack frame as one or more lines, whatever the runtime's format."""
    if isinstance(frame, str):
        return frame.rstrip("\n")  # Python's frames end in a newline already
    if isinstance(frame, dict) and {"path", "line"} <= frame.keys():  # Go
        return f"{frame.get('label', '?')} ({frame['path']}:{frame['line']})"
    if isinstance(frame, list) and len(frame) == 4:  # Python 2 style: file, line, function, code
        path, line, function, code = frame
        return f'  File "{path}", line {line}, in {function}\n    {code}'
    return _compact_json(frame)


def _loose_text(value: Any, limit: int) -> str:
    """Text from a field that should be a string but, from a custom runtime, may not be."""
    if value is None:
        return ""
    if isinstance(value, str):
        return storable(value, limit)
    return storable(_compact_json(value), limit)


def _attribute_strings(attributes: Any, *keys: str) -> dict[str, str]:
    """Name -> text of message attributes: SQS ({"StringValue"}) or SNS ({"Value"}) shaped."""
    if not isinstance(attributes, dict):
        return {}
    found = {}
    for name, value in attributes.items():
        if not isinstance(name, str) or not isinstance(value, dict):
            continue
        for key in keys:
            item = value.get(key)
            if isinstance(item, bytes | bytearray):
                item = bytes(item).decode("utf-8", "replace")
            if isinstance(item, str):
                found[name] = item
                break
    return found


def _has_dlq_attributes(attributes: dict[str, str]) -> bool:
    return any(name in attributes for name in _DLQ_ATTRIBUTES)


# JSON helpers.


def _depth_exceeds(value: Any, limit: int) -> bool:
    """True if containers nest deeper than `limit`; iterative, so deep input cannot recurse."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            item = list(item.values())
        if isinstance(item, list):
            if depth > limit:
                return True
            stack.extend((child, depth + 1) for child in item)
    return False


def _plainly_storable(text: str) -> bool:
    """Can nothing parsed from `text` break storage, without looking at the values? Yes when
    it is ASCII without NUL or \\u escapes (so no NUL or lone surrogate can appear, nor a bracket
    hidden in an escape) and has too few brackets to nest deeper than MAX_JSON_DEPTH. Most
    records are: the walks below are for the rest."""
    return (
        text.isascii()
        and "\\u" not in text
        and "\x00" not in text
        and text.count("{") + text.count("[") <= MAX_JSON_DEPTH
    )


def _storage_problem(value: Any, plain: bool) -> str:
    """Why `value` cannot go into a jsonb column as it is, or "" if it can. `plain`: it was
    parsed from text that _plainly_storable() cleared."""
    if plain:
        return ""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            if unstorable(item):
                return "contains NUL or unpaired surrogate characters"
        elif isinstance(item, dict | list):
            if depth > MAX_JSON_DEPTH:
                return f"nested deeper than {MAX_JSON_DEPTH} levels"
            if isinstance(item, dict):
                stack.extend((key, depth) for key in item)
                item = item.values()
            stack.extend((child, depth + 1) for child in item)
    return ""


def _compact_json(value: Any) -> str:
    try:
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)[: MAX_STACK_TRACE + 1]
    except (TypeError, ValueError, RecursionError):
        return repr(value)[:MAX_TEXT]


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def _preview(value: Any) -> str:
    return storable(repr(value), 80)
