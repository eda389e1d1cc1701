from django.shortcuts import render

from invocations.models import ExecutionRecord


def record_list(request):
    rows = ExecutionRecord.objects.for_list().filter(environment=request.environment)[:50]
    return render(request, "invocations/records.html", {"records": rows})
