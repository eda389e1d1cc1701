from django.http import Http404
from django.shortcuts import get_object_or_404, redirect
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from invocations.models import Environment


@require_POST
def switch(request):
    chosen = request.POST.get("environment", "")
    if not chosen.isdecimal():
        raise Http404("No such environment.")
    env = get_object_or_404(Environment, pk=chosen)
    request.session["environment_id"] = env.pk
    back = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}):
        back = "triage"
    return redirect(back)
