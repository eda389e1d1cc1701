from django.shortcuts import render

from invocations.models import Invocation


def invocation_list(request):
    rows = Invocation.objects.for_list().filter(environment=request.environment)[:50]
    return render(request, "invocations/invocations.html", {"invocations": rows})
