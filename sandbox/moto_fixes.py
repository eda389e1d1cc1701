"""Fixes to moto 5.2.5's Lambda API where it differs from AWS (see ENVIRONMENT.md).

- ``DeadLetterConfig`` is dropped by CreateFunction and UpdateFunctionConfiguration: kept here
  and returned by GetFunction / GetFunctionConfiguration as ``{"TargetArn": ...}``.
- PutFunctionEventInvokeConfig appends, so a second put is ignored, and ignores ``Qualifier``:
  here each function, version and alias has its own configuration, a put replaces it and
  UpdateFunctionEventInvokeConfig merges into it.
- Invoke reads ``qualifier`` while boto3 sends ``Qualifier``, and drops the qualifier written in
  ``FunctionName`` (``name:alias``, a version or alias ARN) from what the function is told it was
  invoked as; it knows no payload limits, no JSON validation, and replaces the response's
  request ID with a random string.
"""

import json
import re
from urllib.parse import parse_qs, unquote

from moto.awslambda.exceptions import UnknownEventConfig
from moto.awslambda.models import EventInvokeConfig, LambdaBackend, LambdaFunction
from moto.awslambda.responses import LambdaResponse
from moto.core.responses import ActionResult, BaseResponse
from moto.utilities.aws_headers import amz_crc32

from sandbox.errors import (
    ASYNC_PAYLOAD_LIMIT,
    SYNC_PAYLOAD_LIMIT,
    InvalidInvocationTypeException,
    InvalidParameterValueException,
    InvalidRequestContentException,
    RequestTooLargeException,
)

# The forms of FunctionName Lambda accepts: a name, ``name:qualifier``, a partial ARN
# (``123456789012:function:name[:qualifier]``) or a full ARN (with or without a qualifier).
FUNCTION_NAME = re.compile(
    r"^(?:(?:arn:[\w-]+:lambda:[\w-]+:)?\d{12}:function:)?"
    r"(?P<name>[a-zA-Z0-9_-]+)(?::(?P<qualifier>\$LATEST|[a-zA-Z0-9_-]+))?$"
)

INVOCATION_STATUS = {"RequestResponse": 200, "Event": 202, "DryRun": 204}
_installed = False


def install() -> None:
    global _installed
    if _installed:
        return
    _installed = True
    _keep_dead_letter_config()
    _replace_event_invoke_config_storage()
    LambdaResponse.invoke = _invoke_endpoint
    LambdaResponse._enrich_response = staticmethod(_enrich_keeping_request_id)


def _keep_dead_letter_config() -> None:
    original_init = LambdaFunction.__init__
    original_get_configuration = LambdaFunction.get_configuration
    original_update_configuration = LambdaFunction.update_configuration

    def __init__(self, account_id, spec, region, version=1):
        original_init(self, account_id, spec, region, version)
        self.dead_letter_target_arn = (spec.get("DeadLetterConfig") or {}).get("TargetArn")

    def get_configuration(self, on_create=False):
        config = original_get_configuration(self, on_create)
        target = getattr(self, "dead_letter_target_arn", None)
        if target:
            config["DeadLetterConfig"] = {"TargetArn": target}
        return config

    def update_configuration(self, config_updates):
        if "DeadLetterConfig" in config_updates:
            # An empty TargetArn removes the dead-letter queue, as on AWS.
            target = (config_updates["DeadLetterConfig"] or {}).get("TargetArn")
            self.dead_letter_target_arn = target or None
        return original_update_configuration(self, config_updates)

    LambdaFunction.__init__ = __init__
    LambdaFunction.get_configuration = get_configuration
    LambdaFunction.update_configuration = update_configuration


def _replace_event_invoke_config_storage() -> None:
    """One configuration per function, version or alias, as on Lambda (moto kept a list on the
    function, ignored ``Qualifier`` and returned the first one it was given)."""

    def put_function_event_invoke_config(self, function_name, config, qualifier=None):
        name, qualifier = split_qualifier(function_name, qualifier)
        target = self.get_function(name, qualifier)  # 404 for an unknown version or alias
        latest = self.get_function(name)
        arn = _qualified_arn(latest, qualifier) if qualifier else target.function_arn
        event_config = EventInvokeConfig(arn, target.last_modified, config)
        if qualifier in (None, "$LATEST"):
            latest.event_invoke_config = [event_config]
        else:
            qualified_event_invoke_configs(latest)[qualifier] = event_config
        return event_config.response()

    def update_function_event_invoke_config(self, function_name, config, qualifier=None):
        existing = find_event_invoke_config(self, function_name, qualifier)
        merged = dict(existing.config) if existing else {}
        for key, value in config.items():
            if key == "DestinationConfig":
                merged["DestinationConfig"] = {**merged.get("DestinationConfig", {}), **value}
            else:
                merged[key] = value
        return put_function_event_invoke_config(self, function_name, merged, qualifier)

    def get_function_event_invoke_config(self, function_name, qualifier=None):
        found = find_event_invoke_config(self, function_name, qualifier)
        if found is None:
            name, qualifier = split_qualifier(function_name, qualifier)
            raise UnknownEventConfig(_qualified_arn(self.get_function(name), qualifier))
        return found.response()

    def delete_function_event_invoke_config(self, function_name, qualifier=None):
        get_function_event_invoke_config(self, function_name, qualifier)  # 404 when none
        name, qualifier = split_qualifier(function_name, qualifier)
        latest = self.get_function(name)
        if qualifier in (None, "$LATEST"):
            latest.event_invoke_config = []
        else:
            qualified_event_invoke_configs(latest).pop(qualifier, None)

    def list_function_event_invoke_configs(self, function_name):
        name, _ = split_qualifier(function_name, None)
        latest = self.get_function(name)
        configs = list(latest.event_invoke_config[:1])
        configs += list(qualified_event_invoke_configs(latest).values())
        return {"FunctionEventInvokeConfigs": [config.response() for config in configs]}

    LambdaBackend.put_function_event_invoke_config = put_function_event_invoke_config
    LambdaBackend.update_function_event_invoke_config = update_function_event_invoke_config
    LambdaBackend.get_function_event_invoke_config = get_function_event_invoke_config
    LambdaBackend.delete_function_event_invoke_config = delete_function_event_invoke_config
    LambdaBackend.list_function_event_invoke_configs = list_function_event_invoke_configs

    def put_response(self):
        answer = self.backend.put_function_event_invoke_config(
            _path_function_name(self), self.json_body, _query_qualifier(self)
        )
        return ActionResult(answer)

    def update_response(self):
        answer = self.backend.update_function_event_invoke_config(
            _path_function_name(self), self.json_body, _query_qualifier(self)
        )
        return json.dumps(answer)

    def get_response(self):
        answer = self.backend.get_function_event_invoke_config(
            _path_function_name(self), _query_qualifier(self)
        )
        return ActionResult(answer)

    def delete_response(self):
        self.backend.delete_function_event_invoke_config(
            _path_function_name(self), _query_qualifier(self)
        )
        return 204, {"status": 204}, json.dumps({})

    LambdaResponse.put_function_event_invoke_config = put_response
    LambdaResponse.update_function_event_invoke_config = update_response
    LambdaResponse.get_function_event_invoke_config = get_response
    LambdaResponse.delete_function_event_invoke_config = delete_response


def _path_function_name(response: LambdaResponse) -> str:
    # .../functions/NAME/event-invoke-config
    return unquote(response.path.rsplit("/", 2)[1])


def _query_qualifier(response: LambdaResponse) -> str | None:
    return parse_qs(response.parsed_url.query).get("Qualifier", [None])[0]


def qualified_event_invoke_configs(latest: LambdaFunction) -> dict:
    """The configurations of a function's versions and aliases, kept on its ``$LATEST``."""
    if not hasattr(latest, "sandbox_event_invoke_configs"):
        latest.sandbox_event_invoke_configs = {}
    return latest.sandbox_event_invoke_configs


def find_event_invoke_config(backend, function_name: str, qualifier: str | None):
    """The configuration for exactly this function, version or alias, or None: Lambda does not
    fall back from an alias or version to the function's own configuration."""
    name, qualifier = split_qualifier(function_name, qualifier)
    latest = backend.get_function(name)
    if qualifier in (None, "$LATEST"):
        return latest.event_invoke_config[0] if latest.event_invoke_config else None
    backend.get_function(name, qualifier)  # 404 for an unknown version or alias
    return qualified_event_invoke_configs(latest).get(qualifier)


def _qualified_arn(function: LambdaFunction, qualifier: str | None) -> str:
    unqualified = function.function_arn.split(":function:")[0] + (
        f":function:{function.function_name}"
    )
    return f"{unqualified}:{qualifier}" if qualifier else unqualified


@amz_crc32
def _invoke_endpoint(self: LambdaResponse):
    """The Invoke API through moto's dispatch (``fast_invoke`` usually answers first)."""
    function_name = unquote(self.path.rsplit("/", 2)[-2])
    # moto folds headers and body into ``querystring``: read the URL's own query.
    qualifier = parse_qs(self.parsed_url.query).get("Qualifier", [None])[0]
    raw = self.raw_body or b""
    raw = raw.encode("utf-8") if isinstance(raw, str) else raw
    status, response_headers, payload = invoke_api(
        self.backend, function_name, qualifier, self.headers, raw
    )
    response_headers["status"] = str(status)  # moto's response layer reads it from here
    return status, response_headers, payload


def invoke_api(backend: LambdaBackend, function_name: str, qualifier, headers, raw: bytes):
    """Validates like Lambda, then calls ``LambdaFunction.invoke``; returns the status, the
    response headers and the payload. Raises Lambda's client errors."""
    invocation_type = headers.get("X-Amz-Invocation-Type") or "RequestResponse"
    if invocation_type not in INVOCATION_STATUS:
        raise InvalidInvocationTypeException(invocation_type)

    function_name, qualifier = split_qualifier(function_name, qualifier)
    function = backend.get_function(function_name, qualifier)  # 404 when unknown

    limit = ASYNC_PAYLOAD_LIMIT if invocation_type == "Event" else SYNC_PAYLOAD_LIMIT
    if len(raw) > limit:
        raise RequestTooLargeException(limit)
    body = raw.decode("utf-8", errors="replace")
    if body:
        try:
            json.loads(body)
        except ValueError as exc:
            raise InvalidRequestContentException(str(exc)) from exc

    response_headers: dict[str, str] = {}
    invoked_arn = _invoked_arn(function, qualifier)
    payload = function.invoke(body, headers, response_headers, invoked_arn=invoked_arn)
    if invocation_type != "RequestResponse" or headers.get("X-Amz-Log-Type") != "Tail":
        response_headers.pop("x-amz-log-result", None)
    response_headers["content-type"] = "application/json"
    response_headers["Content-Length"] = str(len(payload))
    return INVOCATION_STATUS[invocation_type], response_headers, payload


def split_qualifier(function_name: str, qualifier: str | None) -> tuple[str, str | None]:
    """The function's name and the qualifier the caller asked for, wherever it was written:
    in ``FunctionName`` (``name:alias``, a qualified ARN) or in ``Qualifier``. Both at once must
    agree, as on Lambda."""
    match = FUNCTION_NAME.match(function_name)
    if match is None:
        return function_name, qualifier  # moto answers for names it does not know
    named = match["qualifier"]
    if named and qualifier and named != qualifier:
        raise InvalidParameterValueException(
            "The derived qualifier from the function name does not match the specified qualifier."
        )
    return match["name"], named or qualifier


def _invoked_arn(function: LambdaFunction, qualifier: str | None) -> str:
    """The ARN the caller named, which the context's ``invoked_function_arn`` shows: the
    unqualified ARN, or qualified with the version or alias asked for."""
    unqualified = function.function_arn.split(":function:")[0] + (
        f":function:{function.function_name}"
    )
    return f"{unqualified}:{qualifier}" if qualifier else unqualified


def _enrich_keeping_request_id(headers, body):
    # moto gives every response a random request ID; an invocation's ID is its context's.
    request_id = headers.get("x-amzn-requestid")
    headers, body = BaseResponse._enrich_response(headers, body)
    if request_id:
        headers["x-amzn-requestid"] = request_id
    return headers, body
