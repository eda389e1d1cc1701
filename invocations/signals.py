"""Audit events for signing in and out, and staff status for the Admin role: the web edge's
signals (Django sends them with the request)."""

from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.db.models.signals import m2m_changed
from django.dispatch import receiver

from invocations.access import audit
from invocations.access.actor import Actor
from invocations.middleware import actor_of


def _signed(request, user) -> Actor:
    # Django sends these signals before (sign-in) or after (sign-out) request.user is the user.
    where = actor_of(request)
    return Actor(user=user, ip_address=where.ip_address, user_agent=where.user_agent)


@receiver(user_logged_in)
def _logged_in(sender, request, user, **kwargs):
    audit.record("login", actor=_signed(request, user), summary=f"{user.get_username()} logged in")


@receiver(user_logged_out)
def _logged_out(sender, request, user, **kwargs):
    if user is not None:
        audit.record(
            "logout", actor=_signed(request, user), summary=f"{user.get_username()} logged out"
        )


@receiver(user_login_failed)
def _login_failed(sender, credentials, request=None, **kwargs):
    username = str(credentials.get("username", ""))[:150]
    details: dict[str, object] = {"username": username}
    if getattr(request, "axes_locked_out", False):
        details["locked_out"] = True  # refused by the login throttle (invocations/access/login.py)
    audit.record(
        "login.failed",
        actor=actor_of(request),
        summary=f"failed login for {username!r}",
        details=details,
    )


def _sync_staff_status(sender, instance, action, reverse, model, pk_set, **kwargs):
    # The admin site needs is_staff; the Admin role is what grants it here, so the two never
    # drift apart. Only the user → groups side is handled (the common path in the admin).
    if reverse or action not in {"post_add", "post_remove", "post_clear"}:
        return
    is_admin = instance.is_superuser or instance.groups.filter(name="Admin").exists()
    if instance.is_staff != is_admin:
        instance.is_staff = is_admin
        instance.save(update_fields=["is_staff"])


def connect_staff_sync():
    from django.contrib.auth import get_user_model

    m2m_changed.connect(
        _sync_staff_status,
        sender=get_user_model().groups.through,
        dispatch_uid="invocations.sync_staff_status",
    )
