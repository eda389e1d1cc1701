from django.urls import path

from invocations.views import (
    environments,
    exports,
    functions,
    group,
    invocations,
    invoke,
    lists,
    monitor,
    queues,
    records,
    replay,
    requests,
    triage,
    workers,
)

urlpatterns = [
    # Triage
    path("", triage.triage_list, name="triage"),
    path("triage/changes/", triage.triage_changes, name="triage-changes"),
    path("triage/redrive/dismiss/", triage.dismiss_redrive, name="redrive-dismiss"),
    path("groups/bulk/", triage.bulk_action, name="groups-bulk"),
    path("groups/<int:pk>/", group.group_detail, name="group"),
    path("groups/<int:pk>/changes/", group.group_changes, name="group-changes"),
    path("groups/<int:pk>/<str:action>/", group.group_action, name="group-action"),
    # Replay
    path("replay/", replay.replay_plan, name="replay-plan"),
    path("replay/start/", replay.replay_start, name="replay-start"),
    path("replay/redrive/", replay.redrive_records, name="redrive"),
    path("replay/<int:pk>/", replay.replay_batch, name="replay-batch"),
    path("replay/<int:pk>/cancel/", replay.replay_cancel, name="replay-cancel"),
    path("environment/", environments.switch, name="environment-switch"),
    # Functions
    path("functions/", functions.function_list, name="functions"),
    # Not under functions/: a Lambda function may be named "refresh".
    path("inventory/refresh/", functions.refresh, name="functions-refresh"),
    path("functions/<str:name>/", functions.function_detail, name="function"),
    path("functions/<str:name>/invoke/", invoke.invoke, name="function-invoke"),
    path("functions/<str:name>/monitor/", monitor.function_monitor, name="function-monitor"),
    path("functions/<str:name>/logs-insights/", monitor.logs_insights, name="function-insights"),
    path("functions/<str:name>/templates/", invoke.save_template, name="template-save"),
    path(
        "functions/<str:name>/templates/<int:pk>/delete/",
        invoke.delete_template,
        name="template-delete",
    ),
    # Invocations
    path("invocations/", invocations.invocation_list, name="invocations"),
    path("invocations/<int:pk>/", invocations.invocation_detail, name="invocation"),
    path("invocations/<int:pk>/status/", invocations.invocation_status, name="invocation-status"),
    path("invocations/<int:pk>/log/", invocations.invocation_log, name="invocation-log"),
    path("invocations/<int:pk>/rerun/", invoke.rerun, name="invocation-rerun"),
    # Records
    path("records/", records.record_list, name="records"),
    path("records/changes/", records.record_changes, name="records-changes"),
    path("records/<int:pk>/", records.record_detail, name="record"),
    path("records/<int:pk>/logs/", records.record_logs, name="record-logs"),
    path("records/<int:pk>/text/<str:field>/", records.record_text, name="record-text"),
    # One request ID across invocations, records, groups and replays
    path("requests/<str:request_id>/", requests.request_detail, name="request"),
    # Workers (Admin)
    path("workers/", workers.worker_list, name="workers"),
    # Exports of any list, with its filters; the query bar's suggestions
    path("suggestions/<str:list_name>/", lists.suggestions, name="suggestions"),
    path("export/<str:list_name>.<str:fmt>", exports.export, name="export"),
    # Queues
    path("queues/", queues.queue_list, name="queues"),
    path("queues/watch/", queues.queue_watch, name="queues-watch"),
    path("queues/discover/", queues.queue_discover, name="queues-discover"),
    path("queues/<int:pk>/depth/", queues.queue_depth, name="queue-depth"),
    path("queues/<int:pk>/toggle/", queues.queue_toggle, name="queue-toggle"),
    path("queues/<int:pk>/poll/", queues.queue_poll, name="queue-poll"),
]
