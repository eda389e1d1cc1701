"""Where to go back to after a form: the `next` a page sent, if it stays on this site."""

from django.utils.http import url_has_allowed_host_and_scheme


def safe_next(request, default: str) -> str:
    """The posted `next` when it is a URL of this site (no other host, no `//host`, no
    `javascript:`), else `default` (a URL name or path for `redirect`)."""
    wanted = request.POST.get("next") or request.GET.get("next") or ""
    if wanted and url_has_allowed_host_and_scheme(
        wanted, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return wanted
    return default
