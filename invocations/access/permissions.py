"""Who may do what. Views use these decorators; the role → permission table is in the
0002 migration (Viewer < Operator < Triager < Admin)."""

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
    return user is not None and user.is_active and user.has_perm(perm)
