"""What every view uses at the web edge: the permission a view needs, a `next` it may redirect
to, and the one way a view answers htmx. The rules themselves live in invocations/access (who
may do what)."""

from functools import wraps

from django.core.exceptions import PermissionDenied
from django.shortcuts import render
from django.utils.http import url_has_allowed_host_and_scheme

from invocations.access.permissions import can


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


def safe_next(request, default: str) -> str:
    """Where to go back to after a form: the posted `next` when it is a URL of this site (no
    other host, no `//host`, no `javascript:`), else `default` (a URL name or path for
    `redirect`)."""
    wanted = request.POST.get("next") or request.GET.get("next") or ""
    # Only a path: `redirect` would read a bare word ("system") as a URL name to reverse.
    if wanted.startswith("/") and url_has_allowed_host_and_scheme(
        wanted, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return wanted
    return default


def page_or_fragment(request, page: str, fragment: str, context: dict, *, target: str = ""):
    """Render `fragment` for an htmx request (aimed at the element `target`, when given), and
    `page` for everything else: a first visit, a reload, a boosted link (which wants the whole
    page), or an htmx request that swaps some other element."""
    wants_fragment = (
        request.htmx and not request.htmx.boosted and (not target or request.htmx.target == target)
    )
    return render(request, fragment if wants_fragment else page, context)
