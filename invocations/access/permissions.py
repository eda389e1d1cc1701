"""Who may do what. Views use these decorators; the role → permission table is in the
0002 migration (Viewer < Operator < Triager < Admin)."""

from functools import wraps

from django.core.exceptions import PermissionDenied

INVOKE = "invocations.invoke_function"
REPLAY = "invocations.replay_record"
TRIAGE = "invocations.triage_failures"
RAW_PAYLOADS = "invocations.view_raw_payload"
MANAGE_QUEUES = "invocations.manage_queues"
VIEW = "invocations.view_invocation"
# The Admin role's own permission: the Workers page shows the installation's inner workings.
ADMIN = "invocations.manage_environments"


def visible_environments(user):
    """The environments `user` may see. Every role reads every environment today; detail pages
    and the `env` parameter go through this one place, so a narrower rule lands here."""
    from invocations.models import Environment

    if not (user.is_active and user.has_perm(VIEW)):
        return Environment.objects.none()
    return Environment.objects.all()


def can(user, perm: str) -> bool:
    return user.is_active and user.has_perm(perm)


def require(perm: str):
    """403 for a signed-in user without `perm` (anonymous users never get here: the login
    middleware sends them to the login page first)."""

    def decorator(view):
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            if not can(request.user, perm):
                raise PermissionDenied(f"You need the permission {perm!r} for this.")
            return view(request, *args, **kwargs)

        return wrapped

    return decorator
