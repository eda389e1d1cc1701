"""Redaction of secrets in payloads shown to people without the raw-payload permission, and in
exports by default. Keys are matched case-insensitively by substring (`X-Api-Key` matches
`api_key` once separators are ignored)."""

import re
from typing import Any

from django.conf import settings

REDACTED = "[redacted]"


def _squash(key: str) -> str:
    return re.sub(r"[^a-z0-9]", "", key.lower())


def _patterns() -> list[str]:
    return [_squash(p) for p in settings.REDACT_KEYS if _squash(p)]


def is_secret_key(key: str, patterns: list[str] | None = None) -> bool:
    squashed = _squash(str(key))
    return any(p in squashed for p in (patterns if patterns is not None else _patterns()))


def redact(value: Any, patterns: list[str] | None = None, _depth: int = 0) -> Any:
    """A copy of a JSON value with the values of secret-looking keys replaced."""
    patterns = patterns if patterns is not None else _patterns()
    if _depth > 64:
        return REDACTED  # deeper than any real payload; don't recurse without bound
    if isinstance(value, dict):
        return {
            k: REDACTED if is_secret_key(k, patterns) else redact(v, patterns, _depth + 1)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [redact(item, patterns, _depth + 1) for item in value]
    return value
