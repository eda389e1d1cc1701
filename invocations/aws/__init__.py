"""The one package that talks to AWS (or the sandbox), and the only one that imports boto3.

`clients` holds the client cache, timeouts, credentials and `AwsError`; one module per service
wraps its operations and returns plain data. Callers outside use the names below
(`from invocations import aws; aws.invoke(...)`), which is also where a test replaces one of
them. Inside the package, the service modules reach the client cache through its module
(`clients.client(...)`, never a name copied into their own namespace), so a test that replaces
`invocations.aws.clients.client` reaches every service.
"""

from invocations.aws.clients import (
    INVOKE,
    PROBE,
    RECEIVE,
    SHORT,
    AwsError,
    as_aws_error,
    client,
    counting,
    probe,
    reset_clients,
)
from invocations.aws.cloudwatch import MetricQuery, get_metric_data
from invocations.aws.eventbridge import bus_queue_targets
from invocations.aws.iam import caller_arn, principal_arn, simulate
from invocations.aws.lambda_api import (
    LAMBDA_SYNC_LIMIT,
    MAX_RESPONSE_BYTES,
    InvokeResult,
    event_source_mappings_by_function,
    first_function_name,
    get_event_invoke_config,
    get_function_concurrency,
    invoke,
    invoke_dry_run,
    list_aliases,
    list_event_invoke_configs,
    list_event_source_mappings,
    list_functions,
    list_versions,
)
from invocations.aws.logs import LogEvent, filter_log_events, log_events_between
from invocations.aws.sns import topic_queue_subscriptions
from invocations.aws.sqs import (
    DeleteFailure,
    delete_messages,
    queue_depth,
    queue_url_from_arn,
    receive_messages,
    redrive_dead_letter_arn,
    release_messages,
    send_message,
    visibility_timeout,
)

__all__ = [
    "INVOKE",
    "LAMBDA_SYNC_LIMIT",
    "MAX_RESPONSE_BYTES",
    "PROBE",
    "RECEIVE",
    "SHORT",
    "AwsError",
    "DeleteFailure",
    "InvokeResult",
    "LogEvent",
    "MetricQuery",
    "as_aws_error",
    "bus_queue_targets",
    "caller_arn",
    "client",
    "counting",
    "delete_messages",
    "event_source_mappings_by_function",
    "filter_log_events",
    "first_function_name",
    "get_event_invoke_config",
    "get_function_concurrency",
    "get_metric_data",
    "invoke",
    "invoke_dry_run",
    "list_aliases",
    "list_event_invoke_configs",
    "list_event_source_mappings",
    "list_functions",
    "list_versions",
    "log_events_between",
    "principal_arn",
    "probe",
    "queue_depth",
    "queue_url_from_arn",
    "receive_messages",
    "redrive_dead_letter_arn",
    "release_messages",
    "reset_clients",
    "send_message",
    "simulate",
    "topic_queue_subscriptions",
    "visibility_timeout",
]
