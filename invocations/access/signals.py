"""Audit events for signing in and out, and staff status for the Admin role."""

from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.db.models.signals import m2m_changed
from django.dispatch import receiver

from invocations.access import audit


@receiver(user_logged_in)
def _logged_in(sender, request, user, **kwargs):
    audit.record("login", request=request, user=user, summary=f"{user.get_username()} logged in")


@receiver(user_logged_out)
def _logged_out(sender, request, user, **kwargs):
    if user is not None:
        audit.record(
            "logout", request=request, user=user, summary=f"{user.get_username()} logged out"
        )


@receiver(user_login_failed)
def _login_failed(sender, credentials, request=None, **kwargs):
    username = str(credentials.get("username", ""))[:150]
    details: dict[str, object] = {"username": username}
    if getattr(request, "axes_locked_out", False):
        details["locked_out"] = True  # refused by the login throttle (invocations/access/login.py)
    audit.record(
        "login.failed",
        request=request,
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
