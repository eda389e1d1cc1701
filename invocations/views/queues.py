from django.shortcuts import render

from invocations.models import WatchedQueue


def queue_list(request):
    rows = WatchedQueue.objects.filter(environment=request.environment)
    return render(request, "invocations/queues.html", {"queues": rows})
