"""The audit trail of the admin site and of roles.

Every model page of the admin (ours, Django's users and groups, axes' lockouts) is given
`AuditedAdmin` when the app starts, so that each add, change and delete writes an audit event
with the changed fields before → after, in the admin's own transaction. Changes of group
membership and of permissions write an event wherever they happen (the admin, the shell, a
migration), through the m2m signals. Values are shown as the trail may keep them: a password
is only ever "[changed]", secret-looking fields and payload secrets are redacted, long text is
cut."""

import json
from contextvars import ContextVar
from urllib.parse import urlsplit

from django.contrib import admin
from django.db import models, transaction
from django.db.models.signals import m2m_changed

from invocations.access import audit
from invocations.access.redaction import REDACTED, is_secret_key, redact
from invocations.middleware import actor_of

HIDDEN, CHANGED = "[hidden]", "[changed]"
MAX_VALUE_CHARS = 500
# The request of the admin page making an m2m change, so that the signal knows who did it.
_admin_request: ContextVar = ContextVar("admin_request", default=None)


def _is_password(field) -> bool:
    return field.name == "password" and field.model._meta.label == "auth.User"


def _masked_url(value: str) -> str:
    # A URL's path and query often carry a token (a webhook's, a presigned one): keep the host.
    parts = urlsplit(value)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return f"{parts.scheme}://{host}/…" if parts.scheme else REDACTED


def _shown(field, value):
    """A field's value as the trail may keep it."""
    if _is_password(field):
        return HIDDEN
    if is_secret_key(field.name):
        return REDACTED
    if isinstance(field, models.URLField) and value:
        return _masked_url(str(value))
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, dict | list):
        text = json.dumps(redact(value), default=str, ensure_ascii=False)
    else:
        text = str(value)
        text = redact(text) if isinstance(value, str) else text
    return text[:MAX_VALUE_CHARS]


def _fields(obj):
    # auto_now stamps change on every save and say nothing about what a person changed.
    return [f for f in obj._meta.concrete_fields if not getattr(f, "auto_now", False)]


def snapshot(obj) -> dict:
    return {f.name: _shown(f, f.value_from_object(obj)) for f in _fields(obj)}


def changes(before, after) -> dict:
    """{field: [before, after]} for the fields whose stored value differs."""
    changed = {}
    for field in _fields(after):
        old, new = field.value_from_object(before), field.value_from_object(after)
        if old == new:
            continue
        if _is_password(field):
            changed[field.name] = [HIDDEN, CHANGED]
        else:
            changed[field.name] = [_shown(field, old), _shown(field, new)]
    return changed


def _record(request, verb: str, obj, details: dict) -> None:
    audit.record(
        f"admin.{verb}",
        actor=actor_of(request),
        target=obj,
        summary=f"{verb} {obj._meta.verbose_name} {obj}"[:500],
        details={"model": obj._meta.label_lower, **details},
    )
    request._admin_audited = getattr(request, "_admin_audited", set()) | {_key(obj)}


def _key(obj) -> tuple:
    return (obj._meta.label_lower, str(obj.pk))


class AuditedAdmin(admin.ModelAdmin):
    """Mixed into every ModelAdmin of the site by `audit_every_model_admin`. A ModelAdmin that
    writes its own events for single saves and deletes sets `audits_its_own_changes = True`;
    its bulk deletes are still audited here."""

    audits_its_own_changes = False

    def save_model(self, request, obj, form, change):
        if self.audits_its_own_changes:
            return super().save_model(request, obj, form, change)
        before = type(obj)._default_manager.filter(pk=obj.pk).first() if change else None
        super().save_model(request, obj, form, change)
        if before is None:
            _record(request, "add", obj, {"after": snapshot(obj)})
        else:
            _record(request, "change", obj, {"changes": changes(before, obj)})

    def save_related(self, request, form, formsets, change):
        token = _admin_request.set(request)
        try:
            super().save_related(request, form, formsets, change)
        finally:
            _admin_request.reset(token)

    def log_change(self, request, obj, message):
        # Pages that save without save_model (the admin's password form) still leave an event;
        # the fields come from the admin's own change message, their values are not known.
        if not self.audits_its_own_changes and _key(obj) not in getattr(
            request, "_admin_audited", set()
        ):
            fields = [
                name
                for entry in message
                if isinstance(entry, dict)
                for name in entry.get("changed", {}).get("fields", [])
            ]
            _record(request, "change", obj, {"changes": {f: [HIDDEN, CHANGED] for f in fields}})
        return super().log_change(request, obj, message)

    def delete_model(self, request, obj):
        if not self.audits_its_own_changes:
            _record(request, "delete", obj, {"before": snapshot(obj)})
        super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):
        with transaction.atomic():
            for obj in queryset:
                _record(request, "delete", obj, {"before": snapshot(obj)})
            super().delete_queryset(request, queryset)


def audit_every_model_admin(site: admin.AdminSite) -> None:
    """Give every registered ModelAdmin the audit behaviour (the trail's own page excepted:
    nothing can change it)."""
    from invocations.models import AuditEvent

    for model, model_admin in list(site._registry.items()):
        if model is AuditEvent or isinstance(model_admin, AuditedAdmin):
            continue
        cls = type(model_admin)
        audited = type(f"Audited{cls.__name__}", (AuditedAdmin, cls), {})
        site._registry[model] = audited(model, site)


def _name(obj) -> str:
    if obj._meta.label == "auth.Permission":
        return f"{obj.content_type.app_label}.{obj.codename}"
    return str(obj)


def _relation_changed(sender, instance, action, reverse, model, pk_set, **kwargs):
    if action not in {"post_add", "post_remove", "pre_clear"}:
        return
    relation = _RELATIONS[sender][1 if reverse else 0]
    if action == "pre_clear":
        related = list(getattr(instance, _ATTRIBUTES[sender][1 if reverse else 0]).all())
    else:
        related = list(model._default_manager.filter(pk__in=pk_set or ()))
    if not related:
        return
    names = sorted(_name(obj) for obj in related)
    verb = "added" if action == "post_add" else "removed"
    audit.record(
        f"{instance._meta.model_name}.{relation}",
        actor=actor_of(_admin_request.get()),
        target=instance,
        summary=f"{verb} {relation} of {instance}: {', '.join(names)}"[:500],
        details={"relation": relation, verb: names},
    )


_RELATIONS: dict = {}
_ATTRIBUTES: dict = {}


def connect_relation_audit() -> None:
    from django.contrib.auth.models import Group, User

    # through model: (label seen from the forward side, from the reverse side), and the
    # attributes that read the related objects from each side.
    _RELATIONS.update(
        {
            User.groups.through: ("groups", "members"),
            User.user_permissions.through: ("user_permissions", "users"),
            Group.permissions.through: ("permissions", "groups"),
        }
    )
    _ATTRIBUTES.update(
        {
            User.groups.through: ("groups", "user_set"),
            User.user_permissions.through: ("user_permissions", "user_set"),
            Group.permissions.through: ("permissions", "group_set"),
        }
    )
    for through in _RELATIONS:
        m2m_changed.connect(
            _relation_changed,
            sender=through,
            dispatch_uid=f"invocations.audit_relation.{through._meta.label_lower}",
        )
