"""Sending one message to one channel: apprise for every service it knows, and our own signed
JSON webhook for http(s):// addresses. Called by the worker only, never inside a transaction."""

import hashlib
import hmac
import json
import logging
import re
import time
from dataclasses import dataclass
from typing import Any

import apprise
import requests
from django.conf import settings

from alerts import messages
from alerts.models import MASK, Channel

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Lambda-Triage-Signature"
TIMESTAMP_HEADER = "X-Lambda-Triage-Timestamp"


@dataclass(frozen=True)
class Outcome:
    ok: bool
    retryable: bool = False
    code: int | None = None
    error: str = ""


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """HMAC-SHA256, hex, over "{timestamp}.{body}": a receiver recomputes it with its copy of
    the channel secret, and refuses old timestamps so that a captured request cannot be
    replayed later."""
    return hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def webhook_body(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()


def send(channel: Channel, title: str, payload: dict[str, Any]) -> Outcome:
    if channel.is_webhook:
        return _post_webhook(channel, payload)
    return _notify_apprise(channel, title, messages.as_text(payload))


def _post_webhook(channel: Channel, payload: dict[str, Any]) -> Outcome:
    body = webhook_body(payload)
    timestamp = str(int(time.time()))
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "lambda-triage-alerts",
        TIMESTAMP_HEADER: timestamp,
        SIGNATURE_HEADER: sign(channel.secret, timestamp, body),
    }
    try:
        response = requests.post(
            channel.url,
            data=body,
            headers=headers,
            timeout=(3, settings.ALERT_WEBHOOK_TIMEOUT),
            allow_redirects=False,
        )
    except requests.Timeout:
        return Outcome(False, retryable=True, error="timed out")
    except requests.ConnectionError:
        return Outcome(False, retryable=True, error="connection refused or lost")
    except requests.RequestException as exc:  # an address requests cannot use
        return Outcome(False, error=f"request failed ({type(exc).__name__})")
    code = response.status_code
    if 200 <= code < 300:
        return Outcome(True, code=code)
    # The receiver is down or busy: worth another try. Other answers will not change.
    retryable = code >= 500 or code == 429
    return Outcome(False, retryable=retryable, code=code, error=f"answered HTTP {code}")


def _notify_apprise(channel: Channel, title: str, body: str) -> Outcome:
    service = apprise.Apprise()
    if not service.add(channel.url):
        return Outcome(False, error="not a URL apprise knows")
    # apprise leaves LogCapture's parameters unannotated.
    with apprise.LogCapture(level=apprise.logging.WARNING) as captured:  # type: ignore[no-untyped-call]
        ok = bool(service.notify(title=title, body=body))
    if ok:
        return Outcome(True)
    # apprise says only yes or no; its log says why. Either may be passing: try again.
    return Outcome(False, retryable=True, error=scrub(_last_line(captured.getvalue()), channel.url))


def _last_line(text: str) -> str:
    lines = [line.split(" - ", 2)[-1] for line in text.strip().splitlines()]
    return (lines[-1] if lines else "apprise could not deliver")[:500]


def scrub(text: str, url: str) -> str:
    """`text` without any piece of the channel URL that could be a secret (tokens, passwords,
    webhook paths): error messages are shown to people who may not see the URL."""
    for piece in sorted(set(re.split(r"[/:@?&=#,]+", url)), key=len, reverse=True):
        if len(piece) >= 6:
            text = text.replace(piece, MASK)
    return text
