"""Redaction of secrets in payloads, log lines and error messages: what people without the
raw-payload permission, exports, search and alerts read.

Redaction runs once, when a text arrives (ingest and invoke store a redacted copy beside the raw
one, see `STORED_COPIES`), and again only when `REDACT_KEYS` changes (a background task). A page
never redacts per view. It is also in linear time by construction: the free-text scanner is one
RE2 pass (google-re2: automata, no backtracking, linear in the text) plus hand-written walks over
secret values that never revisit a character, and `scan` counts that work so a test can prove
it is at most a constant times the length of the text (`Scan.steps`).

Keys are matched case-insensitively by substring once percent-encoding is undone and separators
are ignored (`X-Api-Key` and `api%5Fkey` match `api_key`). Secrets hide in more places than
top-level keys: an API Gateway `body`, an SNS `Message` and an SQS record `body` are JSON encoded
inside a string, a form post or a query string is `key=value&…`, a log line prints
`Authorization: Bearer …`, a Python dict, or the repr of a dataclass or pydantic model
(`Settings(db_password='…')`), and a URL may carry `user:password@`. Each of those is walked (JSON
inside strings to a bounded depth) and only the secret values change.

The API for the rest of the code:
- `redact_text(text) -> str`: free text (an error message, a stack trace, a log line).
- `redact(value)`: a JSON value (a payload); `redact_json_text(text)`: a payload kept as text.
- `copies(model, fields) -> fields`: the values about to be written with their redacted copies
  added; every write of a raw column listed in `STORED_COPIES` goes through it (a row saved one
  at a time gets them from a `pre_save` hook). A new model with texts a function wrote (a
  failed event's type, message and stack trace) adds its columns to `STORED_COPIES`, a
  `<column>_redacted` column beside each, and `reredaction.MODELS`; pages then read the copy
  with `{% shown row "column" %}`."""

import base64
import binascii
import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

import re2
from django.conf import settings

REDACTED = "[redacted]"
# Past this nesting (of containers, and of JSON encoded inside strings) a value is hidden whole:
# no real event nests this deep, and a hostile one must not make us recurse without bound.
MAX_DEPTH = 64
MAX_JSON_IN_STRING = 4
# The budget of one text: past this many characters the rest is not scanned but cut (the raw
# copy keeps it for people with the raw-payload permission). A million characters is far more
# than a page shows, and the scan of it is a few tens of milliseconds.
MAX_TEXT_CHARS = 1_000_000

# The stored redacted copies, beside the raw columns they are made from (model: raw → redacted).
# Pages, exports, search and alerts read the redacted column unless the person may read raw.
STORED_COPIES = {
    "ExecutionRecord": {
        "error_message": "error_message_redacted",
        "stack_trace": "stack_trace_redacted",
        "parse_error": "parse_error_redacted",
        "request_payload": "request_payload_redacted",
        "response_payload": "response_payload_redacted",
    },
    "Invocation": {
        "error_text": "error_text_redacted",
        "log_tail": "log_tail_redacted",
        "payload": "payload_redacted",
        "response_payload": "response_payload_redacted",
    },
    "FailureGroup": {"sample_message": "sample_message_redacted"},
    "FailedEvent": {
        "error_message": "error_message_redacted",
        "stack_trace": "stack_trace_redacted",
    },
}
# Of those, the JSON columns (a copy made with `redact`) and the text columns that hold JSON as
# Lambda took or gave it (redacted as JSON when they parse, else as text).
JSON_COLUMNS = {("ExecutionRecord", "request_payload"), ("ExecutionRecord", "response_payload")}
JSON_TEXT_COLUMNS = {("Invocation", "payload"), ("Invocation", "response_payload")}

# One pass finds every place a secret may start, in priority order at each position:
# - `url`: `scheme://user:` then the password up to the last `@` of the authority;
# - `kq`…`qsep`: a quoted key and its separator (`"key": `, `'key' = `, `\"key\": ` inside a
#   JSON string);
# - `key` `sep`: a bare key and its separator (`key=`, `key = `, `Authorization: `, `key:` in a
#   repr or a log line).
# Only the key and the separator are matched: the value is walked by hand (`_value_end`), so a
# key that is not secret lets the scan go on into its value (`'body': '{"password": …}'`).
_STARTS = re2.compile(
    r"""(?P<url>[A-Za-z][A-Za-z0-9+.\-]*://[^\s:/@"'<>]*:)(?P<pw>[^\s/?#"'<>]+)@"""
    r"""|(?P<kq>\\*["'])(?P<qkey>[^"'\\\r\n]+)(?P<kq2>\\*["'])(?P<qsep>[ \t]*[:=][ \t]*)"""
    r"""|(?P<key>[A-Za-z0-9_%][A-Za-z0-9_\-.\[\]%]*)(?P<sep>[ \t]*[:=][ \t]*)"""
)
# The groups by number: google-re2's Match looks a group's name up by rebuilding the pattern's
# whole name table (every name decoded) on each access, a tenth of an invoke's redaction.
_URL, _PW, _KQ, _QKEY, _KQ2, _KEY, _SEP = (
    _STARTS.groupindex[name] for name in ("url", "pw", "kq", "qkey", "kq2", "key", "sep")
)
# Where a bare value ends: after a quoted key (a dict, JSON) and after `key=` (a query string, a
# repr's argument). After a bare `key:` (a header, a log line) the value is the rest of the line.
_BARE_AFTER_QUOTED_KEY = frozenset(" \t\r\n,}])")
_BARE_AFTER_ASSIGNMENT = frozenset(" \t\r\n&;,'\"()[]{}")
_LINE_END = frozenset("\r\n")


def _squash(key: str) -> str:
    # Percent-encoding undone (twice at most: `api%255Fkey`), then letters and digits only.
    for _ in range(2):
        if "%" not in key:
            break
        key = unquote(key)
    return "".join(c for c in key.lower() if c.isascii() and c.isalnum())


# REDACT_KEYS as last squashed: the setting's keys, their squashed patterns, and the verdicts
# on keys met since (payload keys repeat: "order", "items", "id"…), for keys of at most
# _VERDICT_KEY_CHARS characters and at most _VERDICTS of them.
_squashed: tuple[tuple[str, ...], list[str], dict[str, bool]] = ((), [], {})
_VERDICT_KEY_CHARS = 100
_VERDICTS = 10_000


def current_patterns() -> list[str]:
    """REDACT_KEYS squashed, made again only when the setting changes (the poller redacts a
    few texts of every record: squashing every key for each was a tenth of its CPU). Not to be
    modified."""
    global _squashed
    keys = tuple(settings.REDACT_KEYS)
    if keys != _squashed[0]:
        _squashed = (keys, [_squash(p) for p in keys if _squash(p)], {})
    return _squashed[1]


def _patterns() -> list[str]:
    return current_patterns()


def is_secret_key(key: str, patterns: list[str] | None = None) -> bool:
    patterns = patterns if patterns is not None else current_patterns()
    _keys, current, verdicts = _squashed
    if patterns is not current or type(key) is not str or len(key) > _VERDICT_KEY_CHARS:
        return _is_secret(str(key), patterns)
    verdict = verdicts.get(key)
    if verdict is None:
        if len(verdicts) >= _VERDICTS:
            verdicts.clear()
        verdict = verdicts[key] = _is_secret(key, patterns)
    return verdict


def _is_secret(key: str, patterns: list[str]) -> bool:
    squashed = _squash(key)
    return any(p in squashed for p in patterns)


@dataclass
class Scan:
    """One redaction of free text, and the work it took: `steps` counts the characters the RE2
    pass read, the characters of each match, the key characters compared with each pattern and
    the characters of each value walked. Each is at most the length of the text (matches and
    walks never overlap), so `steps` is at most (3 + number of patterns) × length."""

    text: str
    patterns: list[str]
    steps: int = 0
    pieces: list[str] = field(default_factory=list)

    def secret(self, key: str) -> bool:
        self.steps += len(key) * max(1, len(self.patterns))
        return is_secret_key(key, self.patterns)


def _value_span(text: str, pos: int, after: str, work: Scan) -> tuple[int, int, int]:
    """Where the value that starts at `pos` is: (start, end) of what to hide, and where the scan
    goes on. A quoted value (`"…"`, `'…'`, `\\"…\\"` inside a JSON string) ends at its own closing
    quote, escapes respected, or at the end of the line; a bare one at `stops`. One walk, each
    character read once."""
    n = len(text)
    i = pos
    while i < n and text[i] == "\\":
        i += 1
    work.steps += i - pos
    if i < n and text[i] in "\"'":
        quote, escapes = text[i], i - pos
        run = 0
        j = i + 1
        while j < n:
            c = text[j]
            if c in _LINE_END:
                break
            if c == "\\":
                run += 1
            elif c == quote and (run == escapes if escapes else run % 2 == 0):
                work.steps += j - i
                return i + 1, j - escapes, j + 1
            else:
                run = 0
            j += 1
        work.steps += j - i
        return i + 1, j, j
    stops = {"quoted": _BARE_AFTER_QUOTED_KEY, "assign": _BARE_AFTER_ASSIGNMENT}.get(
        after, _LINE_END
    )
    j = pos
    while j < n and text[j] not in stops:
        j += 1
    if after == "assign" and j < n and j > pos and text[j] == "(":
        # A wrapped value in a repr (`password=SecretStr('…')`): hidden to its closing bracket.
        while j < n and text[j] not in ")\r\n":
            j += 1
        j = min(j + 1, n) if j < n and text[j] == ")" else j
    work.steps += j - pos
    return pos, j, j


def _encodable(text: str) -> str:
    """The text RE2 reads: it takes UTF-8, which a lone surrogate (`\\ud800`, valid in a JSON
    escape) cannot be written in; each one is read as "?", one character for one, so offsets
    into the original text stay right and the original is what is kept."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "replace").decode("utf-8")
    return text


def scan(text: str, patterns: list[str] | None = None) -> Scan:
    """Redact free text and count the work (see `Scan`)."""
    work = Scan(text="", patterns=patterns if patterns is not None else _patterns())
    body, rest = text[:MAX_TEXT_CHARS], len(text) - MAX_TEXT_CHARS
    work.steps += len(body)
    out: list[str] = []
    done = 0  # body[:done] is in `out`
    skip_until = 0  # a match that starts before this is inside a value already hidden
    for match in _STARTS.finditer(_encodable(body)):
        start = match.start()
        if start < skip_until:
            continue
        work.steps += match.end() - start
        if match[_URL] is not None:
            hide_from = start + len(match[_URL])
            hide_to = hide_from + len(match[_PW])
            out += [body[done:hide_from], REDACTED]
            done = skip_until = hide_to
            continue
        if match[_QKEY] is not None:
            if match[_KQ] != match[_KQ2] or not work.secret(match[_QKEY]):
                continue
            after = "quoted"
        else:
            if not work.secret(match[_KEY]):
                continue
            after = "assign" if "=" in match[_SEP] else "line"
        hide_from, hide_to, skip_until = _value_span(body, match.end(), after, work)
        if hide_to > hide_from:
            out += [body[done:hide_from], REDACTED]
            done = hide_to
    out.append(body[done:])
    if rest > 0:
        out.append(f" [… {rest} more characters not shown: past what is checked for secrets]")
    work.text = "".join(out)
    return work


def redact_text(text: str, patterns: list[str] | None = None) -> str:
    """Free text (a log line, an error message, a stack trace, a query string) with secret
    values hidden, in time linear in its length. The function to call on any text that leaves
    the raw copy: stored copies, alerts, audit details, log lines."""
    if not isinstance(text, str) or not text:
        return text
    if len(text) <= MAX_TEXT_CHARS and ":" not in text and "=" not in text:
        return text  # every place a secret may start has a ":" or a "=" (_STARTS)
    return scan(text, patterns).text


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


def copies(model: str, fields: dict[str, Any], patterns: list[str] | None = None) -> dict[str, Any]:
    """`fields` (a row's values about to be written) with the redacted copy of each raw text
    among them added (`STORED_COPIES`): every write of a raw text goes through here, so the
    copy is made once, when the text arrives."""
    patterns = patterns if patterns is not None else _patterns()
    for raw, redacted in STORED_COPIES[model].items():
        if raw not in fields:
            continue
        value = fields[raw]
        if (model, raw) in JSON_COLUMNS:
            fields[redacted] = None if value is None else redact(value, patterns)
        elif (model, raw) in JSON_TEXT_COLUMNS:
            fields[redacted] = redact_json_text(str(value or ""), patterns)
        else:
            fields[redacted] = redact_text(str(value or ""), patterns)
    return fields


def redact_json_text(text: str, patterns: list[str] | None = None) -> str:
    """A payload kept as text: redacted as JSON when it parses (written back only if something
    was hidden, so an untouched payload keeps its own spelling), else as free text."""
    if not text:
        return text
    try:
        parsed = json.loads(text)
    except (ValueError, RecursionError):
        return redact_text(text, patterns)
    shown = redact(parsed, patterns)
    if shown == parsed:
        return text
    try:
        written = json.dumps(shown, ensure_ascii=False)
    except (ValueError, RecursionError):
        return REDACTED
    # A lone surrogate the JSON escaped must stay escaped: no database stores it as a character.
    return written if _encodable(written) is written else json.dumps(shown)


def fill_copies(instance: Any, patterns: list[str] | None = None) -> None:
    """Set the redacted copies on a model instance from its raw texts (before a save or a bulk
    insert)."""
    model = type(instance).__name__
    values = {raw: getattr(instance, raw) for raw in STORED_COPIES[model]}
    for name, value in copies(model, values, patterns).items():
        setattr(instance, name, value)


def _fill_before_save(sender: Any, instance: Any, update_fields: Any = None, **kwargs: Any) -> None:
    if update_fields is None or set(update_fields) & set(STORED_COPIES[sender.__name__]):
        fill_copies(instance)


def connect_copies() -> None:
    """A row saved one at a time (`save()`, `create()`, the admin) gets its redacted copies made
    on the way in; bulk inserts and `update()` calls go through `copies` themselves."""
    from django.apps import apps
    from django.db.models.signals import pre_save

    for name in STORED_COPIES:
        model = apps.get_model("invocations", name)
        pre_save.connect(_fill_before_save, sender=model, dispatch_uid=f"redacted-copies-{name}")


def redact_strings(value: Any, _depth: int = 0) -> Any:
    """A copy of a JSON value with every string redacted as free text (keys kept as they are):
    for what the dashboard writes about itself (an audit event's details), whose keys it chose
    and whose strings may quote what a function or a queue wrote."""
    if _depth > MAX_DEPTH:
        return REDACTED
    if isinstance(value, dict):
        return {k: redact_strings(v, _depth + 1) for k, v in value.items()}
    if isinstance(value, list):
        return [redact_strings(item, _depth + 1) for item in value]
    if isinstance(value, str):
        return redact_text(value)
    return value
