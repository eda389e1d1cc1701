from django.http import HttpResponseBadRequest
from django.template import loader
from django.utils.functional import SimpleLazyObject

from invocations.access import permissions
from invocations.access.actor import SYSTEM, Actor
from invocations.models import Environment

# No inline scripts or styles anywhere: htmx needs none, and this stops injected markup running.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'; "
    "object-src 'none'"
)


class ContentSecurityPolicyMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        response.setdefault("Content-Security-Policy", CSP)
        return response


class RefuseNulMiddleware:
    """A NUL character in the path, a query parameter or a posted field is a 400, before any
    view or admin list filter reads it: PostgreSQL refuses NUL in text, so a lookup with it
    would be a 500 there (SQLite takes it), and no name, id or search here may hold one."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if "\x00" in request.path or _holds_nul(request.GET) or _posted_nul(request):
            reason = "It holds a NUL character, which no name, id or search here accepts."
            return HttpResponseBadRequest(loader.render_to_string("400.html", {"reason": reason}))
        return self.get_response(request)


def _holds_nul(values) -> bool:
    return any("\x00" in key or any("\x00" in v for v in values.getlist(key)) for key in values)


def _posted_nul(request) -> bool:
    if request.method != "POST" or request.content_type not in (
        "application/x-www-form-urlencoded",
        "multipart/form-data",
    ):
        return False
    return _holds_nul(request.POST)


def actor_of(request) -> Actor:
    """Who acts in this request, for the use cases and the audit trail: built here, at the web
    edge, so that nothing below it reads a request. The address is REMOTE_ADDR only:
    X-Forwarded-For is client-controlled unless a trusted proxy rewrites it."""
    if request is None:
        return SYSTEM
    user = getattr(request, "user", None)
    return Actor(
        user=user if user is not None and user.is_authenticated else None,
        ip_address=request.META.get("REMOTE_ADDR") or None,
        user_agent=request.META.get("HTTP_USER_AGENT", "")[:300],
    )


def chosen_environment(request) -> Environment:
    """The environment of the person's switcher (their session), or the default."""
    if not hasattr(request, "_chosen_environment"):
        chosen = request.session.get("environment_id")
        env = Environment.objects.filter(pk=chosen).first() if chosen else None
        request._chosen_environment = env or Environment.objects.default()
    return request._chosen_environment


def current_environment(request) -> Environment:
    """The environment a page shows: the one its URL names (`?env=NAME`, so that a link pasted
    in chat opens in the same environment for everyone allowed to see it), else the switcher's.
    An environment the person may not see is ignored."""
    named = request.GET.get("env", "")
    if named and getattr(request, "user", None) is not None and request.user.is_authenticated:
        found = permissions.visible_environments(request.user).filter(name=named).first()
        if found is not None:
            return found
    return chosen_environment(request)


def open_in(request, environment: Environment) -> None:
    """Show this page in `environment`, the environment of the object it is about, whatever
    the switcher says; the switcher itself is left alone."""
    request.environment = environment


class CurrentEnvironmentMiddleware:
    """request.environment: the one chosen in the switcher, or the default. Lazy, like
    request.user, so /health/ never touches the environments table."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.environment = SimpleLazyObject(lambda: current_environment(request))
        return self.get_response(request)
