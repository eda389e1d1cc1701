"""What the evaluator decided to send: one rule firing on one group or queue. Its own module so
that the evaluator (which decides) and notifying (which stores and sends) both use it and
neither imports the other."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from alerts import messages
from alerts.models import Rule
from invocations.models import FailureGroup, WatchedQueue


@dataclass
class Firing:
    rule: Rule
    condition: str
    group: FailureGroup | None = None
    queue: WatchedQueue | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    def payload(self) -> dict[str, Any]:
        return messages.event_payload(self.rule, self.condition, self.group, self.queue, self.extra)
