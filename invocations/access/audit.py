"""Writing the audit trail. Call inside the transaction that makes the change. The summary and
the details are redacted as they are written: the trail is read by people without the
raw-payload permission, and a detail may quote what a function or a queue wrote."""

from django.db import models
from django.urls import reverse

from invocations.access import redaction
from invocations.access.actor import Actor
from invocations.models import AuditEvent


def record(
    action: str,
    *,
    actor: Actor,
    target: models.Model | None = None,
    summary: str = "",
    details: dict | None = None,
) -> AuditEvent:
    """Append one event done by `actor` (a person, or the system)."""
    return AuditEvent.objects.create(
        actor=actor.user,
        actor_name=actor.name,
        action=action,
        target_type=(target._meta.model_name or "") if target is not None else "",
        target_id=str(target.pk) if target is not None else "",
        target_repr=str(target)[:300] if target is not None else "",
        summary=redaction.redact_text(summary[:500]),
        details=redaction.redact_strings(details or {}),
        ip_address=actor.ip_address,
        user_agent=actor.user_agent[:300],
    )


def history_url(obj) -> str:
    """The admin's audit trail filtered to one object: linked from every object's page."""
    base = reverse("admin:invocations_auditevent_changelist")
    return f"{base}?target_type={obj._meta.model_name}&target_id={obj.pk}"
