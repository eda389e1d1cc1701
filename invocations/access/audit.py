"""Writing the audit trail. Call inside the transaction that makes the change."""

from django.db import models
from django.urls import reverse

from invocations.models import AuditEvent


def _client_ip(request) -> str | None:
    # REMOTE_ADDR only: X-Forwarded-For is client-controlled unless a trusted proxy rewrites it.
    return request.META.get("REMOTE_ADDR") or None if request is not None else None


def record(
    action: str,
    *,
    request=None,
    user=None,
    target: models.Model | None = None,
    summary: str = "",
    details: dict | None = None,
) -> AuditEvent:
    """Append one event. The actor is the request's user, or `user`, or the system."""
    actor = user if user is not None else getattr(request, "user", None)
    if actor is not None and not actor.is_authenticated:
        actor = None
    return AuditEvent.objects.create(
        actor=actor,
        actor_name=actor.get_username() if actor is not None else "system",
        action=action,
        target_type=(target._meta.model_name or "") if target is not None else "",
        target_id=str(target.pk) if target is not None else "",
        target_repr=str(target)[:300] if target is not None else "",
        summary=summary[:500],
        details=details or {},
        ip_address=_client_ip(request),
        user_agent=(request.META.get("HTTP_USER_AGENT", "")[:300] if request is not None else ""),
    )


def history_url(obj) -> str:
    """The admin's audit trail filtered to one object: linked from every object's page."""
    base = reverse("admin:invocations_auditevent_changelist")
    return f"{base}?target_type={obj._meta.model_name}&target_id={obj.pk}"
