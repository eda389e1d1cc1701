from django.shortcuts import get_object_or_404, redirect
from django.views.decorators.http import require_POST

from invocations.models import Environment
from invocations.next_url import safe_next


@require_POST
def switch(request):
    env = get_object_or_404(Environment, pk=request.POST.get("environment"))
    request.session["environment_id"] = env.pk
    return redirect(safe_next(request, "triage"))
