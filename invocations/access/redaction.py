"""Redaction of secrets in payloads, log lines and error messages shown to people without the
raw-payload permission, and in exports by default.

Keys are matched case-insensitively by substring once separators are ignored (`X-Api-Key`
matches `api_key`). Secrets hide in more places than top-level keys: an API Gateway `body`, an
SNS `Message` and an SQS record `body` are JSON encoded inside a string, a form post or a query
string is `key=value&…`, and a log line prints `Authorization: Bearer …` or a Python dict. Each
of those is walked (JSON inside strings to a bounded depth) and only the secret values change."""

import base64
import binascii
import json
import re
from typing import Any

from django.conf import settings

REDACTED = "[redacted]"
# Past this nesting (of containers, and of JSON encoded inside strings) a value is hidden whole:
# no real event nests this deep, and a hostile one must not make us recurse without bound.
MAX_DEPTH = 64
MAX_JSON_IN_STRING = 4

# "key": "value", 'key': 'value' (a Python dict printed to a log) and \"key\": \"value\" (JSON
# inside a JSON string), or "key": bare-value. Lengths are bounded so that a long line without a
# closing quote costs linear time, not quadratic.
_QUOTED_PAIR = re.compile(
    r"""(?P<kq>\\*["'])(?P<key>[^"'\\\r\n]{1,100})(?P=kq)(?P<sep>\s*:\s*)"""
    r"""(?:(?P<vq>\\*["'])(?P<quoted>(?:\\.|[^\\\r\n]){0,4096}?)(?P=vq)|(?P<bare>[^\s,}\]]{1,4096}))"""
)
# key=value: query strings, form-encoded bodies, `password=… ` in a log line.
_ASSIGNMENT = re.compile(
    r"(?<![\w\-.\[\]])(?P<key>[\w\-.\[\]]{1,100})(?P<sep>=)(?P<value>[^&\s;,'\"]{1,4096})"
)
# Authorization: Bearer …, Cookie: …, X-Api-Key: … (the rest of the line is the value).
_HEADER_LINE = re.compile(
    r"(?<![\w\-])(?P<key>[A-Za-z][\w\-]{0,99})(?P<sep>[ \t]*:[ \t]*)(?P<value>[^\r\n]+)"
)


def _squash(key: str) -> str:
    return re.sub(r"[^a-z0-9]", "", key.lower())


def _patterns() -> list[str]:
    return [_squash(p) for p in settings.REDACT_KEYS if _squash(p)]


def is_secret_key(key: str, patterns: list[str] | None = None) -> bool:
    squashed = _squash(str(key))
    return any(p in squashed for p in (patterns if patterns is not None else _patterns()))


def redact_text(text: str, patterns: list[str] | None = None) -> str:
    """Free text (a log line, an error message, a query string) with secret values hidden."""
    patterns = patterns if patterns is not None else _patterns()
    if not isinstance(text, str) or not text:
        return text

    def quoted(match: re.Match[str]) -> str:
        head = f"{match['kq']}{match['key']}{match['kq']}{match['sep']}"
        secret = is_secret_key(match["key"], patterns)
        if match["vq"] is None:
            return head + REDACTED if secret else match[0]
        # A value that is not secret may itself hold pairs ('body': '{"password": …}').
        inner = REDACTED if secret else _QUOTED_PAIR.sub(quoted, match["quoted"])
        return f"{head}{match['vq']}{inner}{match['vq']}"

    def plain(match: re.Match[str]) -> str:
        if not is_secret_key(match["key"], patterns):
            return match[0]
        return f"{match['key']}{match['sep']}{REDACTED}"

    text = _QUOTED_PAIR.sub(quoted, text)
    text = _ASSIGNMENT.sub(plain, text)
    return _HEADER_LINE.sub(lambda m: plain(m) if REDACTED not in m["value"] else m[0], text)


def _json_inside(text: str) -> tuple[Any, bool]:
    """(value, True) when the string holds a JSON object or array, else (None, False)."""
    stripped = text.strip()
    if not stripped or stripped[0] not in "{[":
        return None, False
    try:
        return json.loads(stripped), True
    except (ValueError, RecursionError):
        return None, False


def _redact_string(text: str, patterns: list[str], depth: int, nested: int) -> str:
    if nested < MAX_JSON_IN_STRING:
        inner, found = _json_inside(text)
        if found:
            shown = redact(inner, patterns, depth + 1, nested + 1)
            return text if shown == inner else json.dumps(shown, ensure_ascii=False)
    return redact_text(text, patterns)


def _redact_base64_body(
    event: dict[str, Any], shown: dict[str, Any], patterns: list[str], depth: int, nested: int
) -> None:
    """An API Gateway event with `isBase64Encoded`: look inside the decoded body."""
    body = event.get("body")
    if event.get("isBase64Encoded") is not True or not isinstance(body, str):
        return
    try:
        decoded = base64.b64decode(body, validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        return
    hidden = _redact_string(decoded, patterns, depth, nested)
    if hidden != decoded:
        shown["body"] = base64.b64encode(hidden.encode("utf-8")).decode("ascii")


def redact(value: Any, patterns: list[str] | None = None, _depth: int = 0, _nested: int = 0) -> Any:
    """A copy of a JSON value with the values of secret-looking keys replaced, looking inside
    strings that hold JSON, form data or `key=value` text."""
    patterns = patterns if patterns is not None else _patterns()
    if _depth > MAX_DEPTH:
        return REDACTED
    if isinstance(value, dict):
        shown = {
            k: REDACTED if is_secret_key(k, patterns) else redact(v, patterns, _depth + 1, _nested)
            for k, v in value.items()
        }
        if _nested < MAX_JSON_IN_STRING:
            _redact_base64_body(value, shown, patterns, _depth + 1, _nested + 1)
        return shown
    if isinstance(value, list):
        return [redact(item, patterns, _depth + 1, _nested) for item in value]
    if isinstance(value, str):
        return _redact_string(value, patterns, _depth, _nested)
    return value
