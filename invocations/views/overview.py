from django.shortcuts import render


def triage(request):
    return render(request, "invocations/triage.html")
