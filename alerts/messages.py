"""What a notification says: a JSON payload (the signed webhook's body, also kept on the
notification) and a short text for chat and email. Only what the team needs to act: no request
payloads, error messages cut short, and every text a function, a queue or AWS wrote redacted (a
channel's members may have no dashboard account: a channel never holds the raw-payload
permission). A group's message is its redacted copy, stored when it arrived; the rest is
redacted here, once, when the notification is stored."""

from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.urls import reverse

from invocations.access.redaction import redact_text
from invocations.models import FailedEvent, FailureGroup, WatchedQueue

MESSAGE_LIMIT = 500
DIGEST_LIMIT = 50


def absolute(path: str) -> str:
    return settings.DASHBOARD_BASE_URL.rstrip("/") + path


def _iso(moment) -> str | None:
    return moment.isoformat() if moment else None


def _request_link(group: FailureGroup) -> tuple[str, str | None]:
    """The group's newest failed event: its request ID and the page that shows it (the record
    it is shown by, or its invocation)."""
    event = (
        FailedEvent.objects.of_group(group)
        .order_by("-happened_at", "-id")
        .values_list("request_id", "primary_record_id", "invocation_id")
        .first()
    )
    if event is None:
        return "", None
    request_id, record_id, invocation_id = event
    if record_id:
        return request_id, absolute(reverse("record", args=[record_id]))
    if invocation_id:
        return request_id, absolute(reverse("invocation", args=[invocation_id]))
    return request_id, None


def group_facts(group: FailureGroup) -> dict:
    request_id, request_url = _request_link(group)
    return {
        "id": group.pk,
        "title": redact_text(group.title),
        "status": group.status,
        "function": group.function_name,
        "error": {
            "type": group.error_type,
            "class": group.error_class,
            "message": group.sample_message_redacted[:MESSAGE_LIMIT],
        },
        "counts": {"total": group.count, "unreplayed": group.backlog_count},
        "first_seen": _iso(group.first_seen),
        "last_seen": _iso(group.last_seen),
        "request_id": request_id,
        "links": {"group": absolute(reverse("group", args=[group.pk])), "request": request_url},
    }


def queue_facts(queue: WatchedQueue) -> dict:
    return {
        "id": queue.pk,
        "name": queue.name,
        "kind": queue.kind,
        "function": queue.function_name,
        "last_polled_at": _iso(queue.last_polled_at),
        "last_error": redact_text(queue.last_error[:MESSAGE_LIMIT]),
        "links": {"queues": absolute(reverse("queues"))},
    }


def headline(condition: str, group=None, queue=None, extra: Mapping[str, Any] | None = None) -> str:
    extra = extra or {}
    if group is not None:
        what = f"{redact_text(group.title)} in {group.function_name}"
        return {
            "new_group": f"New failure: {what}",
            "regression": f"Regressed: {what}",
            "spike": f"Spike: {extra.get('window_count')} in {extra.get('minutes')} min: {what}",
            "backlog_age": f"Unreplayed for over {extra.get('minutes')} min: {what}",
        }.get(condition, what)[:300]
    if condition == "poll_failing":
        return f"Polls of {queue.name} failing for over {extra.get('minutes')} min"[:300]
    return f"{extra.get('depth')} dead letters waiting in {queue.name}"[:300]


def event_payload(
    rule, condition: str, group=None, queue=None, extra: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    payload = {
        "rule": rule.name,
        "event": condition,
        "environment": rule.environment.name,
        "title": headline(condition, group, queue, extra),
    }
    if group is not None:
        facts = group_facts(group)
        payload.update(
            group=facts,
            function=facts["function"],
            error=facts["error"],
            counts={**facts["counts"], **(extra or {})},
            first_seen=facts["first_seen"],
            last_seen=facts["last_seen"],
            links=facts["links"],
        )
    if queue is not None:
        payload.update(queue=queue_facts(queue), function=queue.function_name, counts=extra or {})
    return payload


def digest_title(count: int, environment_name: str) -> str:
    return f"{count} alerts in {environment_name} within a minute"


def digest_payload(
    environment_name: str, rule_names: list[str], items: list[dict], count: int
) -> dict:
    return {
        "rule": ",".join(sorted(set(rule_names))),
        "event": "digest",
        "environment": environment_name,
        "title": digest_title(count, environment_name),
        "count": count,
        "items": items[:DIGEST_LIMIT],
        "links": {"triage": absolute(reverse("triage"))},
    }


def test_payload(channel) -> dict:
    return {
        "rule": "",
        "event": "test",
        "title": f"Test notification from Lambda Triage to {channel.name}",
        "links": {"dashboard": absolute("/")},
    }


def as_text(payload: dict) -> str:
    """The body of a chat or email message."""
    lines = []
    if payload.get("event") == "digest":
        for item in payload["items"]:
            link = item.get("links", {}).get("group") or item.get("links", {}).get("queues", "")
            lines.append(f"- {item['title']} {link}".rstrip())
        if payload["count"] > len(payload["items"]):
            lines.append(f"… and {payload['count'] - len(payload['items'])} more")
        lines.append(f"Triage: {payload['links']['triage']}")
        return "\n".join(lines)
    error = payload.get("error")
    if error:
        lines.append(f"{error['type'] or error['class']}: {error['message']}")
    counts = payload.get("counts")
    if counts:
        lines.append(", ".join(f"{key}: {value}" for key, value in counts.items()))
    if payload.get("first_seen"):
        lines.append(f"First seen {payload['first_seen']}, last seen {payload['last_seen']}")
    if payload.get("queue", {}).get("last_error"):
        lines.append(f"Last error: {payload['queue']['last_error']}")
    for name, url in payload.get("links", {}).items():
        if url:
            lines.append(f"{name.capitalize()}: {url}")
    lines.append(f"Rule: {payload['rule']}" if payload.get("rule") else "")
    return "\n".join(line for line in lines if line)
