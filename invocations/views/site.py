"""Site-wide endpoints outside the pages: health (for people and load balancers), Prometheus
metrics and the favicon."""

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.templatetags.static import static
from django.utils.crypto import constant_time_compare
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from invocations.ops import metrics as dashboard_metrics
from invocations.ops.health import overall, run_checks


@login_not_required
def favicon(request):
    """Browsers ask for /favicon.ico whatever the page says; send them to the static file."""
    response = redirect(static("favicon.ico"))
    response["Cache-Control"] = "public, max-age=86400"
    return response


@login_not_required
@never_cache
def metrics(request):
    """Prometheus metrics for a scraper holding METRICS_TOKEN (a bearer token); off (404)
    while no token is set, 401 for a missing or wrong one."""
    token = settings.METRICS_TOKEN
    if not token:
        raise Http404("Metrics are off: set METRICS_TOKEN to turn them on.")
    sent = request.headers.get("Authorization", "")
    if not constant_time_compare(sent, f"Bearer {token}"):
        response = HttpResponse("A valid bearer token is needed.\n", status=401)
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    return HttpResponse(
        generate_latest(dashboard_metrics.REGISTRY), content_type=CONTENT_TYPE_LATEST
    )


HEALTH_HEADER = "X-Health-Status"


# HEAD too: load balancers and uptime monitors probe with it.
@require_safe
@login_not_required
@never_cache
def health(request):
    """Up, degraded or down, with a reason for each part. A machine reads the status code (503
    when down; 200 when up or degraded, since the dashboard still serves) or the
    `X-Health-Status` header; people read the page, which says the same."""
    checks = run_checks()
    status = overall(checks)
    reasons = [c.reason for c in checks if not c.ok]
    code = 503 if status == "down" else 200
    if request.GET.get("format") == "json":
        response: HttpResponse = JsonResponse(
            {
                "ok": status == "up",
                "status": status,
                "reasons": reasons,
                "checks": {c.name: {"ok": c.ok, "reason": c.reason} for c in checks},
            },
            status=code,
        )
    else:
        response = render(
            request,
            "invocations/health.html",
            {"checks": checks, "ok": status == "up", "status": status, "reasons": reasons},
            status=code,
        )
    response[HEALTH_HEADER] = status
    return response
