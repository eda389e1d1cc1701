"""Display helpers of every page (`{% load display %}`): payloads, times, sizes, statuses and
links. Much of what they show is untrusted: everything here returns plain strings that Django
escapes, or renders templates with autoescaping on. Nothing is marked safe."""

import json
import re
from datetime import UTC, datetime

from django import template
from django.urls import reverse
from django.utils import timezone
from django.utils.timesince import timesince

from invocations.access import audit, permissions
from invocations.access.redaction import REDACTED, redact, redact_text
from invocations.models import Invocation
from invocations.shared.text import printable

register = template.Library()

# Past this size a payload is shown collapsed, and past the display cap only its start is shown.
COLLAPSE_BYTES = 16 * 1024
DISPLAY_CAP_BYTES = 512 * 1024


def _as_json_value(value):
    """(parsed, ok): text is parsed if it is JSON, other values are taken as they are."""
    if isinstance(value, bytes):
        value = value.decode("utf-8", errors="replace")
    if isinstance(value, str):
        try:
            return json.loads(value), True
        except (ValueError, RecursionError):  # RecursionError: nested thousands deep
            return value, False
    return value, True


_NOT_GIVEN = object()


@register.inclusion_tag("invocations/partials/json_block.html", takes_context=True)
def json_block(context, value, label="Payload", block_id="", redacted_copy=_NOT_GIVEN):
    """A payload pretty-printed, collapsed when large, with its size and a copy button. People
    without the raw-payload permission see `redacted_copy`, the copy stored when the payload
    arrived; a value with no stored copy (a replay's preview, a dead letter's body) is redacted
    here."""
    request = context.get("request")
    raw = may_read_raw(getattr(request, "user", None))
    if not raw and redacted_copy is not _NOT_GIVEN:
        value = redacted_copy
    parsed, is_json = _as_json_value(value)
    redacted = False
    if is_json:
        if raw:
            shown = parsed
        elif redacted_copy is not _NOT_GIVEN:
            shown = parsed
            redacted = REDACTED in str(value) if isinstance(value, str) else _holds(parsed)
        else:
            shown = redact(parsed)
            redacted = shown != parsed
        try:
            text = json.dumps(shown, indent=2, ensure_ascii=False, sort_keys=False)
        except (ValueError, RecursionError):
            text, is_json = str(value), False
    else:
        text = str(parsed)
    text = printable(text)
    size = len(text.encode("utf-8"))
    cut = size > DISPLAY_CAP_BYTES
    return {
        "label": label,
        "block_id": block_id,
        "empty": value is None or value == "",
        "text": text[:DISPLAY_CAP_BYTES] if cut else text,
        "size": size,
        "collapsed": size > COLLAPSE_BYTES,
        "cut": cut,
        "is_json": is_json,
        "redacted": redacted,
    }


def may_read_raw(user) -> bool:
    return user is not None and permissions.can(user, permissions.RAW_PAYLOADS)


@register.simple_tag(takes_context=True)
def shown(context, row, field: str) -> str:
    """A stored text (`error_message`, `stack_trace`, `parse_error`, `error_text`, `log_tail`,
    `sample_message`) as this person may read it: the raw column with the raw-payload
    permission, else its redacted copy, made once when the text was stored. Nothing is redacted
    here. Use `{% shown row "error_message" as message %}` and filter `message`."""
    request = context.get("request")
    if may_read_raw(getattr(request, "user", None)):
        return getattr(row, field, "") or ""
    return getattr(row, f"{field}_redacted", "") or ""


# A stored text is shown up to this many characters on a page: a megabyte-long error message must
# not hold a worker while the page is made (the raw text is a link away for who may read it).
TEXT_SHOWN_CHARS = 65_536


@register.filter
def cut_lines(text) -> list[str]:
    """The lines of a stored text, at most TEXT_SHOWN_CHARS of it."""
    return str(text or "")[:TEXT_SHOWN_CHARS].splitlines()


def _holds(value) -> bool:
    """Whether a JSON value has a hidden value in it (the "redacted" badge)."""
    try:
        return REDACTED in json.dumps(value, ensure_ascii=False)
    except (ValueError, RecursionError):
        return False


@register.filter
def redacted_for(text, user):
    """Text that is not stored but read while the page is made (log lines fetched from
    CloudWatch) as this person may see it: secret values hidden without the raw-payload
    permission, in linear time. Stored texts have their redacted copy: use `shown`."""
    if not text:
        return text
    if may_read_raw(user):
        return text
    return redact_text(str(text))


@register.filter
def middle(value, keep=10):
    """Shorten a long ID or ARN in the middle: the full value goes in a title attribute."""
    text = "" if value is None else str(value)
    keep = int(keep)
    if len(text) <= 2 * keep + 1:
        return text
    return f"{text[:keep]}…{text[-keep:]}"


@register.inclusion_tag("invocations/partials/reltime.html")
def reltime(moment: datetime | None, exact: bool = False):
    """ "just now", "40 s ago", "3 minutes ago", with the exact UTC time to the second on hover;
    `exact` also writes it out (detail fields)."""
    if moment is None:
        return {"moment": None}
    utc = moment.astimezone(UTC) if timezone.is_aware(moment) else moment
    return {
        "moment": moment,
        "iso": utc.strftime("%Y-%m-%d %H:%M:%S UTC"),
        "ago": ago(moment),
        "exact": exact,
    }


def ago(moment: datetime, now: datetime | None = None) -> str:
    now = now or timezone.now()
    seconds = (now - moment).total_seconds()
    future = seconds < 0
    seconds = abs(seconds)
    if seconds < 10:
        return "just now"
    if seconds < 60:
        amount = f"{int(seconds)} s"
    else:
        amount = timesince(moment, now) if not future else timesince(now, moment)
        amount = amount.split(",")[0].replace("\xa0", " ")
    return f"in {amount}" if future else f"{amount} ago"


@register.filter
def uptime(seconds) -> str:
    """How long something has been up, as a person says it: "up 45 s", "up 12 min",
    "up 3 h 5 min", "up 2 d 4 h" (two units at most: the rest is noise on a status page)."""
    if seconds is None:
        return "—"
    total = max(int(seconds), 0)
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"up {days} d {hours} h" if hours else f"up {days} d"
    if hours:
        return f"up {hours} h {minutes} min" if minutes else f"up {hours} h"
    if minutes:
        return f"up {minutes} min"
    return f"up {secs} s"


@register.filter
def filesize_bytes(size):
    size = int(size or 0)
    for unit in ("B", "KB", "MB"):
        if size < 1024 or unit == "MB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size} MB"


@register.simple_tag
def audit_history_url(obj) -> str:
    """The admin's audit trail filtered to one object."""
    return audit.history_url(obj)


@register.filter
def status_label(value) -> str:
    """`function_error` → `function error`, as the status badges read."""
    try:
        return str(Invocation.Status(value).label).lower()
    except ValueError:
        return str(value or "").replace("_", " ")


@register.filter
def record_url(record) -> str:
    return reverse("record", args=[record.pk])


@register.inclusion_tag("invocations/partials/invocation_status.html")
def invocation_status(invocation):
    """An invocation's status badge, worded the same on every page; for an Event invocation
    whose outcome is known, the outcome, with "accepted (202)" beside it."""
    return {"i": invocation}


@register.inclusion_tag("invocations/partials/invocation_status.html")
def last_invocation_status(function):
    """The badge of a functions-page row's last invocation, from its `last_<field>`
    annotations, worded like every other status badge."""
    fields = Invocation.BADGE_FIELDS
    return {"i": Invocation(**{name: getattr(function, f"last_{name}") for name in fields})}


# What a request ID may contain to be put in a URL path: AWS's are UUIDs, moto's letters and
# digits. Anything else (a record that named something odd) is shown as text, without a link.
_LINKABLE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")


@register.inclusion_tag("invocations/partials/request_link.html")
def request_link(request_id, keep=8):
    """A request ID shortened in the middle, linked to its request page, full ID on hover."""
    text = "" if request_id is None else str(request_id)
    return {
        "request_id": text,
        "short": middle(text, keep),
        "url": reverse("request", args=[text]) if _LINKABLE_REQUEST_ID.fullmatch(text) else "",
    }
