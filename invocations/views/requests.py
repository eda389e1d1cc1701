"""One page per request ID: the invocation, its records, its group, its replays and their
origin, and every attempt's log. It opens in the environment the request belongs to."""

from django.http import Http404
from django.shortcuts import render
from django.views.decorators.http import require_GET

from invocations.access import permissions
from invocations.failures import request_trail
from invocations.middleware import open_in
from invocations.views import edge


@require_GET
@edge.require(permissions.VIEW)
def request_detail(request, request_id):
    trail = request_trail.find(
        request_id,
        permissions.visible_environments(request.user),
        preferred=request.environment,
    )
    if trail is None:
        raise Http404("No invocation or record with this request ID.")
    open_in(request, trail.environment)
    return render(
        request,
        "invocations/request.html",
        {"trail": trail, "can_see_raw": permissions.can(request.user, permissions.RAW_PAYLOADS)},
    )
