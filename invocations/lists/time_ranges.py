"""The time range picker shared by the lists: 1 h, 24 h, 7 d, 14 d or custom from/to.

Read from the URL's `range`, `since` and `until`; a bad value is named and ignored, never an
error page.
"""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.utils import timezone
from django.utils.dateparse import parse_datetime

PRESETS = {
    "1h": ("Last hour", timedelta(hours=1)),
    "24h": ("Last 24 hours", timedelta(hours=24)),
    "7d": ("Last 7 days", timedelta(days=7)),
    "14d": ("Last 14 days", timedelta(days=14)),
}
CHOICES = [("", "Any time")] + [(key, label) for key, (label, _) in PRESETS.items()]
CHOICES.append(("custom", "Custom…"))


@dataclass(frozen=True)
class TimeRange:
    key: str = ""
    start: datetime | None = None
    end: datetime | None = None
    problems: tuple[str, ...] = ()

    @property
    def bounded(self) -> bool:
        return self.start is not None or self.end is not None

    def filter(self, queryset, field: str):
        if self.start is not None:
            queryset = queryset.filter(**{f"{field}__gte": self.start})
        if self.end is not None:
            queryset = queryset.filter(**{f"{field}__lte": self.end})
        return queryset


def _moment(raw: str, name: str, problems: list[str]) -> datetime | None:
    if not raw:
        return None
    try:
        moment = parse_datetime(raw.strip()[:40])
    except ValueError:
        moment = None
    if moment is None:
        problems.append(f"{name} {raw[:40]!r} is not a date and time; ignored")
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def from_params(params) -> TimeRange:
    """The range asked for by a QueryDict (or dict). `since`/`until` alone also make a custom
    range, so a link with only them keeps working."""
    key = (params.get("range") or "").strip()
    problems: list[str] = []
    if key in PRESETS:
        now = timezone.now()
        return TimeRange(key=key, start=now - PRESETS[key][1], end=None)
    if key not in ("", "custom"):
        problems.append(f"range {key[:20]!r} is not one of {', '.join(PRESETS)}, custom; ignored")
        key = ""
    start = _moment(params.get("since") or "", "from", problems)
    end = _moment(params.get("until") or "", "to", problems)
    if start and end and end < start:
        problems.append("the range ends before it starts; ignored")
        start = end = None
    if start or end:
        key = "custom"
    return TimeRange(key=key, start=start, end=end, problems=tuple(problems))
