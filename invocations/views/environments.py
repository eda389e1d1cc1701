from django.http import Http404
from django.shortcuts import get_object_or_404, redirect
from django.urls import Resolver404, resolve
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from invocations.access import permissions

# A detail page is about one object of one environment: switching goes to the matching list.
LIST_OF = {
    "group": "triage",
    "invocation": "invocations",
    "record": "records",
    "function": "functions",
    "replay-batch": "triage",
    "replay-plan": "triage",
}


@require_POST
def switch(request):
    chosen = request.POST.get("environment", "")
    if not chosen.isdecimal():  # isdigit() would let "²" through, which int() refuses
        raise Http404("No such environment.")
    env = get_object_or_404(permissions.visible_environments(request.user), pk=chosen)
    request.session["environment_id"] = env.pk
    back = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}):
        return redirect("triage")
    path, _, query = back.partition("?")
    try:
        name = resolve(path).url_name
    except Resolver404:
        return redirect("triage")
    if name in LIST_OF:
        return redirect(LIST_OF[name])
    # A list page keeps its filters, but not a pinned environment.
    kept = "&".join(p for p in query.split("&") if p and not p.startswith("env="))
    return redirect(f"{path}?{kept}" if kept else path)
