from django.urls import path

from invocations.views import environments, functions, invocations, overview, queues, records

urlpatterns = [
    path("", overview.triage, name="triage"),
    path("environment/", environments.switch, name="environment-switch"),
    # Functions
    path("functions/", functions.function_list, name="functions"),
    # Invocations
    path("invocations/", invocations.invocation_list, name="invocations"),
    # Records
    path("records/", records.record_list, name="records"),
    # Queues
    path("queues/", queues.queue_list, name="queues"),
]
