from django.contrib.auth.decorators import login_not_required
from django.http import JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from invocations.ops.health import overall, run_checks


# HEAD too: load balancers and uptime monitors probe with it.
@require_safe
@login_not_required
@never_cache
def health(request):
    """Up, degraded or down, with a reason for each part; 200 either way so that the page
    always loads."""
    checks = run_checks()
    status = overall(checks)
    reasons = [c.reason for c in checks if not c.ok]
    if request.GET.get("format") == "json":
        return JsonResponse(
            {
                "ok": status == "up",
                "status": status,
                "reasons": reasons,
                "checks": {c.name: {"ok": c.ok, "reason": c.reason} for c in checks},
            }
        )
    return render(
        request,
        "invocations/health.html",
        {"checks": checks, "ok": status == "up", "status": status, "reasons": reasons},
    )
