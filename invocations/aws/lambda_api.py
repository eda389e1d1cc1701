"""Lambda: invoke a function, and read what is configured about it (functions, versions,
aliases, event source mappings, concurrency, asynchronous invocation settings). Each returns
plain data; every list reads all its pages through boto3's paginators."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from invocations.aws import clients
from invocations.aws.clients import INVOKE, AwsError

if TYPE_CHECKING:
    from mypy_boto3_lambda.type_defs import (
        FunctionConfigurationTypeDef,
        FunctionEventInvokeConfigTypeDef,
    )

    from invocations.models import Environment

# Lambda takes and answers at most 6 MB synchronously: the one definition of that limit.
LAMBDA_SYNC_LIMIT = 6 * 1024 * 1024
# Read no more than that of an answer (plus one byte, to tell).
MAX_RESPONSE_BYTES = LAMBDA_SYNC_LIMIT


@dataclass(frozen=True)
class InvokeResult:
    status_code: int
    function_error: str
    payload: bytes
    payload_truncated: bool
    log_result: str
    executed_version: str
    request_id: str


def invoke(
    environment: Environment, name: str, qualifier: str, invocation_type: str, payload: bytes
) -> InvokeResult:
    """lambda:Invoke, with the 4 KB log tail for a synchronous call. Raises AwsError."""
    kwargs = {"FunctionName": name, "InvocationType": invocation_type, "Payload": payload}
    if qualifier and qualifier != "$LATEST":
        kwargs["Qualifier"] = qualifier
    if invocation_type == "RequestResponse":
        kwargs["LogType"] = "Tail"
    response = clients.call(clients.client(environment, "lambda", INVOKE).invoke, **kwargs)
    body = response.get("Payload")
    data = body.read(MAX_RESPONSE_BYTES + 1) if body is not None else b""
    if len(data) > MAX_RESPONSE_BYTES:
        # Too large: drop the rest with the connection. A body read to its end returns its
        # connection to the pool instead; closing it would cost a new TCP connection (and a
        # server thread) for every invoke.
        body.close()
    meta = response.get("ResponseMetadata", {})
    request_id = meta.get("RequestId") or meta.get("HTTPHeaders", {}).get("x-amzn-requestid", "")
    log = response.get("LogResult") or ""
    return InvokeResult(
        status_code=response.get("StatusCode") or meta.get("HTTPStatusCode") or 0,
        function_error=response.get("FunctionError", "") or "",
        payload=data[:MAX_RESPONSE_BYTES],
        payload_truncated=len(data) > MAX_RESPONSE_BYTES,
        log_result=base64.b64decode(log).decode("utf-8", "replace") if log else "",
        executed_version=response.get("ExecutedVersion", "") or "",
        request_id=request_id,
    )


def list_functions(environment: Environment) -> list[FunctionConfigurationTypeDef]:
    """Every function's configuration (ListFunctions, all pages)."""
    paginator = clients.client(environment, "lambda").get_paginator("list_functions")
    return [
        function
        for page in clients.pages(paginator.paginate())
        for function in page.get("Functions", [])
    ]


def first_function_name(environment: Environment) -> str:
    """The name of one function, "" when there is none (ListFunctions, one item)."""
    paginator = clients.client(environment, "lambda").get_paginator("list_functions")
    pages = paginator.paginate(PaginationConfig={"MaxItems": 1, "PageSize": 1})
    for page in clients.pages(pages):
        for function in page.get("Functions", []):
            return function["FunctionName"]
    return ""


def invoke_dry_run(environment: Environment, name: str) -> None:
    """lambda:InvokeFunction with InvocationType DryRun: Lambda checks the parameters and the
    caller's permission and runs nothing. Raises AwsError."""
    clients.call(
        clients.client(environment, "lambda").invoke, FunctionName=name, InvocationType="DryRun"
    )


def get_function_concurrency(environment: Environment, name: str) -> int | None:
    answer = clients.call(
        clients.client(environment, "lambda").get_function_concurrency, FunctionName=name
    )
    return answer.get("ReservedConcurrentExecutions")


def get_event_invoke_config(environment: Environment, name: str) -> dict[str, Any] | None:
    """The asynchronous invocation settings, or None when the function has none."""
    try:
        answer = clients.call(
            clients.client(environment, "lambda").get_function_event_invoke_config,
            FunctionName=name,
        )
    except AwsError as error:
        if error.code == "ResourceNotFoundException":
            return None
        raise
    return {
        "max_retries": answer.get("MaximumRetryAttempts"),
        "max_event_age": answer.get("MaximumEventAgeInSeconds"),
        "on_success": answer.get("DestinationConfig", {}).get("OnSuccess", {}).get("Destination"),
        "on_failure": answer.get("DestinationConfig", {}).get("OnFailure", {}).get("Destination"),
    }


def _mapping(item: Any) -> dict[str, Any]:
    return {
        "uuid": item.get("UUID", ""),
        "source": item.get("EventSourceArn", ""),
        "state": item.get("State", ""),
        "batch_size": item.get("BatchSize"),
        "on_failure": item.get("DestinationConfig", {}).get("OnFailure", {}).get("Destination", ""),
    }


def list_event_source_mappings(environment: Environment, name: str) -> list[dict[str, Any]]:
    """The function's event source mappings (ListEventSourceMappings, all pages)."""
    paginator = clients.client(environment, "lambda").get_paginator("list_event_source_mappings")
    return [
        _mapping(item)
        for page in clients.pages(paginator.paginate(FunctionName=name))
        for item in page.get("EventSourceMappings", [])
    ]


def event_source_mappings_by_function(environment: Environment) -> dict[str, list[dict[str, Any]]]:
    """Every event source mapping of the account, by function name (ListEventSourceMappings
    without a function, all pages): a few requests instead of one a function."""
    paginator = clients.client(environment, "lambda").get_paginator("list_event_source_mappings")
    found: dict[str, list[dict[str, Any]]] = {}
    for page in clients.pages(paginator.paginate()):
        for item in page.get("EventSourceMappings", []):
            # arn:aws:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER]
            parts = item.get("FunctionArn", "").split(":")
            if len(parts) >= 7:
                found.setdefault(parts[6], []).append(_mapping(item))
    return found


def list_versions(environment: Environment, name: str) -> list[dict[str, Any]]:
    """Every version ($LATEST first) with what a deploy is judged by: {"version",
    "code_sha256", "memory_size", "timeout", "last_modified"} (ListVersionsByFunction, all
    pages)."""
    paginator = clients.client(environment, "lambda").get_paginator("list_versions_by_function")
    return [
        {
            "version": item["Version"],
            "code_sha256": item.get("CodeSha256", "") or "",
            "memory_size": item.get("MemorySize"),
            "timeout": item.get("Timeout"),
            "last_modified": item.get("LastModified", "") or "",
        }
        for page in clients.pages(paginator.paginate(FunctionName=name))
        for item in page.get("Versions", [])
    ]


def list_aliases(environment: Environment, name: str) -> list[dict[str, Any]]:
    """The function's aliases: [{"Name", "FunctionVersion"}] (ListAliases, all pages)."""
    paginator = clients.client(environment, "lambda").get_paginator("list_aliases")
    return [
        {"Name": item.get("Name", ""), "FunctionVersion": item.get("FunctionVersion", "")}
        for page in clients.pages(paginator.paginate(FunctionName=name))
        for item in page.get("Aliases", [])
    ]


def list_event_invoke_configs(
    environment: Environment, name: str
) -> list[FunctionEventInvokeConfigTypeDef]:
    """Every qualifier's asynchronous invocation config (ListFunctionEventInvokeConfigs, all
    pages)."""
    paginator = clients.client(environment, "lambda").get_paginator(
        "list_function_event_invoke_configs"
    )
    return [
        config
        for page in clients.pages(paginator.paginate(FunctionName=name))
        for config in page.get("FunctionEventInvokeConfigs", [])
    ]
