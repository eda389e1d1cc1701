"""IAM enforced on every request (`sandbox --enforce-iam`), before moto's dispatch and before
the sandbox's own fast paths (fast Invoke, fast SQS), so that nothing answers without it.

Who is asking: the access key of the request's signature. A key of an IAM user created in the
sandbox (CreateAccessKey) or of a role assumed through it (AssumeRole) is that principal, and
is allowed only by its policies; any other key (the sandbox's own `testing`/`testing`, the fake
credentials functions run with) acts as the account's root and may do anything, as root does
on AWS. The principal, its signature check and the policy evaluation are moto's own
(`moto.iam.access_control`): its policy documents, Allow and explicit Deny, wildcards in
actions and resources.

What is asked, though, is ours: moto's built-in authorization (INITIAL_NO_AUTH_ACTION_COUNT)
names the action after the operation (`lambda:Invoke`, `sqs:DeleteMessageBatch`,
`monitoring:GetMetricData`) and checks most operations against resource `*`, so the shipped
policy would be refused calls AWS allows and a policy narrowed to some functions would allow
nothing. Here each request is read as AWS reads it: the IAM action of its operation
(`lambda:InvokeFunction`, `sqs:DeleteMessage`, `cloudwatch:GetMetricData`) on the ARN of the
function, queue, log group, topic or rule it names (`*` for the list operations, whose IAM
resource is `*`). A refusal is the service's own AccessDenied answer, with AWS's wording:
"User: ARN is not authorized to perform: ACTION on resource: ARN because no identity-based
policy allows the ACTION action".

S3, Kinesis and DynamoDB requests (the sample functions' own) are not checked. The layer also
answers iam:SimulatePrincipalPolicy (which moto lacks) with the same evaluation, so that the
dashboard's permission check can ask IAM here as it does on AWS.
"""

from __future__ import annotations

import io
import json
import os
import re
import uuid
from functools import cache
from urllib.parse import parse_qs, unquote, urlsplit

import botocore.session
from moto.iam.access_control import (
    AssumedRoleAccessKey,
    CreateAccessKeyFailure,
    IAMPolicy,
    IAMRequest,
    IAMUserAccessKey,
    PermissionResult,
    create_access_key,
)
from moto.iam.models import get_account_id_from
from werkzeug.datastructures import EnvironHeaders

CREDENTIAL = re.compile(
    r"Credential=(?P<key>[^/]+)/\d{8}/(?P<region>[^/]+)/(?P<service>[^/]+)/aws4_request"
)
CBOR_PATH = re.compile(r"^/service/[^/]+/operation/(?P<operation>[A-Za-z]+)$")

# The signing name -> the IAM prefix (they differ for CloudWatch only, among ours).
IAM_PREFIX = {"monitoring": "cloudwatch"}
MODEL_NAME = {"monitoring": "cloudwatch"}
CHECKED = {"lambda", "sqs", "logs", "monitoring", "sns", "events", "sts", "iam"}

# Where the IAM action is not the operation's name (AWS's service authorization reference).
ACTION_OF_OPERATION = {
    "lambda:Invoke": "lambda:InvokeFunction",
    "lambda:InvokeAsync": "lambda:InvokeFunction",
    "sqs:DeleteMessageBatch": "sqs:DeleteMessage",
    "sqs:ChangeMessageVisibilityBatch": "sqs:ChangeMessageVisibility",
    "sqs:SendMessageBatch": "sqs:SendMessage",
}

# Always allowed, as on AWS.
UNCHECKED_ACTIONS = {"sts:GetCallerIdentity"}


class Request:
    """What the check needs of one request."""

    def __init__(self, environ) -> None:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        self.body = b""
        if length:  # a chunked body (no length) is left to moto, unread
            self.body = environ["wsgi.input"].read(length)
            environ["wsgi.input"] = io.BytesIO(self.body)  # what follows can still read it
        self.method = environ.get("REQUEST_METHOD", "GET")
        self.path = environ.get("PATH_INFO") or "/"
        self.query = environ.get("QUERY_STRING") or ""
        self.headers = EnvironHeaders(environ)

    def json(self) -> dict:
        try:
            found = json.loads(self.body or b"{}")
        except ValueError:
            return {}
        return found if isinstance(found, dict) else {}

    def form(self) -> dict[str, str]:
        fields = parse_qs(self.query)
        if self.method == "POST":
            fields.update(parse_qs(self.body.decode("utf-8", "replace")))
        return {key: values[0] for key, values in fields.items()}


class EnforceIam:
    """The WSGI layer in front of the sandbox's application."""

    def __init__(self, app) -> None:
        self.app = app

    def __call__(self, environ, start_response):
        found = CREDENTIAL.search(environ.get("HTTP_AUTHORIZATION") or "")
        if found is None or found["service"] not in CHECKED:
            return self.app(environ, start_response)
        request = Request(environ)
        service, region = found["service"], found["region"]
        account = os.environ.get("MOTO_ACCOUNT_ID") or get_account_id_from(found["key"])
        operation = operation_of(service, request)
        answer = self._answer if (service, operation) == ("iam", SIMULATE) else self.app
        try:
            principal = create_access_key(account, "aws", found["key"], request.headers)
        except CreateAccessKeyFailure:
            return answer(environ, start_response)  # not a principal of the sandbox: root
        if operation is None:
            return self.app(environ, start_response)
        prefix = IAM_PREFIX.get(service, service)
        action = ACTION_OF_OPERATION.get(f"{prefix}:{operation}", f"{prefix}:{operation}")
        # moto's signature check for the principal's secret key.
        signed = IAMRequest(
            account_id=account,
            method=request.method,
            path=request.path + (f"?{request.query}" if request.query else ""),
            data={},
            body=request.body,
            headers=request.headers,
            action=operation,
        )
        try:
            signed.check_signature()
        except Exception as refused:  # moto's SignatureDoesNotMatch, an HTTPException
            return _moto_error(refused, start_response)
        if action in UNCHECKED_ACTIONS:
            return answer(environ, start_response)
        resource = resource_of(service, operation, request, region, account)
        if action == "sts:AssumeRole" and allowed(principal.collect_policies(), action, resource):
            if _trusts_account(resource, account):
                return answer(environ, start_response)
            # Otherwise moto's own check, which reads the role's trust policy for this caller.
            try:
                signed.check_action_permitted(resource)
            except Exception as refused:  # moto's AccessDenied, an HTTPException
                return _moto_error(refused, start_response)
            return answer(environ, start_response)
        if allowed(principal.collect_policies(), action, resource):
            return answer(environ, start_response)
        message = (
            f"User: {principal.arn} is not authorized to perform: {action} on resource: "
            f"{resource} because no identity-based policy allows the {action} action"
        )
        return _denied(service, request, message, start_response)

    def _answer(self, environ, start_response):
        """iam:SimulatePrincipalPolicy, which moto does not implement, answered with the same
        evaluation as every request."""
        request = Request(environ)
        found = CREDENTIAL.search(environ.get("HTTP_AUTHORIZATION") or "")
        account = os.environ.get("MOTO_ACCOUNT_ID") or get_account_id_from(found["key"])
        return simulate_principal_policy(request.form(), account, start_response)


SIMULATE = "SimulatePrincipalPolicy"
# Without --enforce-iam the sandbox allows every request: that is what a simulation says then.
ALLOW_EVERYTHING = json.dumps(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
)


class AnswerSimulations:
    """Without --enforce-iam: iam:SimulatePrincipalPolicy (which moto does not implement)
    answers "allowed" for every action, the truth of a sandbox that checks nothing, instead of
    an answer boto3 cannot parse (the dashboard's permission check would read that as a
    failure and call a fresh `make run` degraded)."""

    def __init__(self, app) -> None:
        self.app = app

    def __call__(self, environ, start_response):
        found = CREDENTIAL.search(environ.get("HTTP_AUTHORIZATION") or "")
        if found is None or found["service"] != "iam":
            return self.app(environ, start_response)
        request = Request(environ)
        if operation_of("iam", request) != SIMULATE:
            return self.app(environ, start_response)
        account = os.environ.get("MOTO_ACCOUNT_ID") or get_account_id_from(found["key"])
        return simulate_principal_policy(
            request.form(), account, start_response, policies=[ALLOW_EVERYTHING]
        )


def _trusts_account(role_arn: str, account: str) -> bool:
    """Does the role's trust policy name the account itself (its root, or its ID)? Then, as on
    AWS, the caller's identity policy decides alone. (moto compares principals literally.)"""
    from moto.iam.models import iam_backends

    try:
        role = iam_backends[account]["aws"].get_role_by_arn(role_arn)
        statements = json.loads(role.assume_role_policy_document).get("Statement", [])
    except Exception:  # no such role, or a document moto could not read: moto's check decides
        return False
    for statement in statements if isinstance(statements, list) else [statements]:
        principals = (statement.get("Principal") or {}).get("AWS", [])
        principals = principals if isinstance(principals, list) else [principals]
        if statement.get("Effect") == "Allow" and any(
            p in (f"arn:aws:iam::{account}:root", account) for p in principals
        ):
            return True
    return False


def _policies_of(principal_arn: str, account: str):
    """The identity policies of an IAM user or role of the sandbox, collected by moto's own
    code; None when there is no such principal."""
    kind, _, name = principal_arn.split(":", 5)[-1].partition("/")
    name = name.rsplit("/", 1)[-1]
    holder: IAMUserAccessKey | AssumedRoleAccessKey
    if kind == "user":
        holder = IAMUserAccessKey.__new__(IAMUserAccessKey)
        holder._owner_user_name = name
    elif kind == "role":
        holder = AssumedRoleAccessKey.__new__(AssumedRoleAccessKey)
        holder._owner_role_name = name
    else:
        return None
    holder.account_id, holder.partition = account, "aws"
    try:
        return holder.collect_policies()
    except Exception:  # moto's NoSuchEntity for a user or role that does not exist
        return None


def simulate_principal_policy(
    form: dict[str, str], account: str, start_response, policies: list | None = None
):
    principal = form.get("PolicySourceArn", "")
    if policies is None:
        policies = _policies_of(principal, account)
    if policies is None:
        body = (
            "<ErrorResponse><Error><Type>Sender</Type><Code>NoSuchEntity</Code>"
            f"<Message>{_xml(f'No such user or role: {principal}')}</Message></Error>"
            f"<RequestId>{uuid.uuid4()}</RequestId></ErrorResponse>"
        ).encode()
        return _answer(404, [("Content-Type", "text/xml")], body, start_response)
    actions = [v for k, v in sorted(form.items()) if k.startswith("ActionNames.member.")]
    resources = [v for k, v in sorted(form.items()) if k.startswith("ResourceArns.member.")]
    members = []
    for action in actions:
        for resource in resources or ["*"]:
            decision = "implicitDeny"
            for policy in policies:
                result = IAMPolicy(policy).is_action_permitted(action, resource)
                if result == PermissionResult.DENIED:
                    decision = "explicitDeny"
                    break
                if result == PermissionResult.PERMITTED:
                    decision = "allowed"
            members.append(
                f"<member><EvalActionName>{_xml(action)}</EvalActionName>"
                f"<EvalResourceName>{_xml(resource)}</EvalResourceName>"
                f"<EvalDecision>{decision}</EvalDecision><MatchedStatements/>"
                "<MissingContextValues/></member>"
            )
    body = (
        '<SimulatePrincipalPolicyResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/">'
        "<SimulatePrincipalPolicyResult><IsTruncated>false</IsTruncated>"
        f"<EvaluationResults>{''.join(members)}</EvaluationResults>"
        "</SimulatePrincipalPolicyResult>"
        f"<ResponseMetadata><RequestId>{uuid.uuid4()}</RequestId></ResponseMetadata>"
        "</SimulatePrincipalPolicyResponse>"
    ).encode()
    return _answer(200, [("Content-Type", "text/xml")], body, start_response)


def allowed(policies, action: str, resource: str) -> bool:
    """moto's evaluation: an explicit Deny wins, else any Allow."""
    permitted = False
    for policy in policies:
        result = IAMPolicy(policy).is_action_permitted(action, resource)
        if result == PermissionResult.DENIED:
            return False
        permitted = permitted or result == PermissionResult.PERMITTED
    return permitted


@cache
def _rest_routes(service: str) -> list[tuple[str, re.Pattern[str], str]]:
    """(method, path pattern, operation) of a REST service's model, the most literal first."""
    model = botocore.session.get_session().get_service_model(MODEL_NAME.get(service, service))
    routes = []
    for name in model.operation_names:
        http = model.operation_model(name).http
        uri = http["requestUri"].split("?", 1)[0]
        pattern = re.sub(r"\\\{[A-Za-z]+\\\+\\\}", ".+", re.escape(uri))
        pattern = re.sub(r"\\\{(?P<n>[A-Za-z]+)\\\}", r"(?P<\g<n>>[^/]+)", pattern)
        literal = len(re.sub(r"\{[^}]+\}", "", uri))
        routes.append((literal, http["method"], re.compile(f"^{pattern}/?$"), name))
    routes.sort(key=lambda route: -route[0])
    return [(method, pattern, name) for _, method, pattern, name in routes]


def _rest_match(service: str, request: Request) -> tuple[str, dict[str, str]] | None:
    for method, pattern, name in _rest_routes(service):
        if method == request.method:
            found = pattern.match(request.path)
            if found:
                return name, {k: unquote(v) for k, v in found.groupdict().items()}
    return None


def operation_of(service: str, request: Request) -> str | None:
    """The operation a request calls, read as each protocol carries it."""
    target = request.headers.get("X-Amz-Target")
    if target:
        return target.rsplit(".", 1)[-1]  # JSON protocols: AmazonSQS.ReceiveMessage
    cbor = CBOR_PATH.match(request.path)
    if cbor:
        return cbor["operation"]  # CloudWatch's RPC v2 CBOR
    if service == "lambda":
        found = _rest_match(service, request)
        return found[0] if found else None
    return request.form().get("Action")  # query protocols: SNS, STS, IAM (and old SQS)


def resource_of(service: str, operation: str, request: Request, region: str, account: str) -> str:
    """The ARN an action is evaluated on, as AWS's service authorization reference names it."""
    if service == "lambda":
        found = _rest_match(service, request)
        name = found[1].get("FunctionName", "") if found else ""
        if not name:
            return "*"
        if name.startswith("arn:"):
            return name
        qualifier = parse_qs(request.query).get("Qualifier", [""])[0]
        arn = f"arn:aws:lambda:{region}:{account}:function:{name}"
        return f"{arn}:{qualifier}" if qualifier and qualifier != "$LATEST" else arn
    if service == "sqs":
        body = request.json() if request.headers.get("X-Amz-Target") else request.form()
        if body.get("QueueUrl"):
            parts = urlsplit(str(body["QueueUrl"])).path.strip("/").split("/")
            if len(parts) == 2:
                return f"arn:aws:sqs:{region}:{parts[0]}:{parts[1]}"
        if body.get("QueueName"):
            owner = body.get("QueueOwnerAWSAccountId") or account
            return f"arn:aws:sqs:{region}:{owner}:{body['QueueName']}"
        return "*"
    if service == "logs":
        group = request.json().get("logGroupName")
        return f"arn:aws:logs:{region}:{account}:log-group:{group}" if group else "*"
    if service == "sns":
        return request.form().get("TopicArn") or "*"
    if service == "events" and operation == "ListTargetsByRule":
        body = request.json()
        bus = body.get("EventBusName") or "default"
        bus = bus.rsplit("/", 1)[-1]
        path = body.get("Rule", "") if bus == "default" else f"{bus}/{body.get('Rule', '')}"
        return f"arn:aws:events:{region}:{account}:rule/{path}"
    if service == "sts" and operation == "AssumeRole":
        return request.form().get("RoleArn") or "*"
    return "*"


# The code each service answers a refusal with, and how its protocol carries it.
_DENIED_CODE = {
    "lambda": "AccessDeniedException",
    "sqs": "AccessDenied",
    "logs": "AccessDeniedException",
    "events": "AccessDeniedException",
    "monitoring": "AccessDenied",
    "sns": "AuthorizationError",
    "sts": "AccessDenied",
    "iam": "AccessDenied",
}


def _denied(service: str, request: Request, message: str, start_response):
    """The service's AccessDenied, in the protocol the request came in."""
    status = 400 if request.headers.get("X-Amz-Target") else 403
    return error_answer(service, request, status, _DENIED_CODE[service], message, start_response)


def error_answer(service, request: Request, status: int, code: str, message: str, start_response):
    """An AWS error answer in the protocol the request came in."""
    query_error = [("x-amzn-query-error", f"{code};Sender")]  # read by query-compatible clients
    if service == "lambda":  # REST JSON
        body = json.dumps({"Type": "User", "Message": message, "message": message}).encode()
        headers = [("Content-Type", "application/json"), ("x-amzn-ErrorType", code)]
        return _answer(status, headers, body, start_response)
    if request.headers.get("X-Amz-Target"):  # JSON: SQS, Logs, EventBridge, CloudWatch
        error_type = f"{code}Exception" if code in {"AccessDenied", "Throttling"} else code
        body = json.dumps({"__type": error_type, "message": message}).encode()
        headers = [("Content-Type", "application/x-amz-json-1.0"), *query_error]
        return _answer(status, headers, body, start_response)
    if CBOR_PATH.match(request.path):  # RPC v2 CBOR: CloudWatch
        body = _cbor_map({"__type": code, "message": message})
        headers = [
            ("Content-Type", "application/cbor"),
            ("smithy-protocol", "rpc-v2-cbor"),
            *query_error,
        ]
        return _answer(status, headers, body, start_response)
    body = (  # query: SNS, STS, IAM
        "<ErrorResponse><Error><Type>Sender</Type>"
        f"<Code>{code}</Code><Message>{_xml(message)}</Message></Error>"
        f"<RequestId>{uuid.uuid4()}</RequestId></ErrorResponse>"
    ).encode()
    return _answer(status, [("Content-Type", "text/xml")], body, start_response)


def _answer(status: int, headers, body: bytes, start_response):
    phrase = {
        200: "OK",
        400: "Bad Request",
        403: "Forbidden",
        404: "Not Found",
        429: "Too Many Requests",
    }[status]
    headers = [
        *headers,
        ("x-amzn-RequestId", str(uuid.uuid4())),
        ("Content-Length", str(len(body))),
    ]
    start_response(f"{status} {phrase}", headers)
    return [body]


def _moto_error(error, start_response):
    status = getattr(error, "code", 403) or 403
    body = error.get_body() if hasattr(error, "get_body") else str(error)
    payload = body.encode() if isinstance(body, str) else body
    start_response(
        f"{status} Forbidden", [("Content-Type", "text/xml"), ("Content-Length", str(len(payload)))]
    )
    return [payload]


def _xml(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _cbor_text(text: str) -> bytes:
    data = text.encode()
    size = len(data)
    if size < 24:
        head = bytes([0x60 | size])
    elif size < 256:
        head = bytes([0x78, size])
    else:
        head = bytes([0x79]) + size.to_bytes(2, "big")
    return head + data


def _cbor_map(fields: dict[str, str]) -> bytes:
    """A CBOR map of short text (RFC 8949), all an error answer needs."""
    return bytes([0xA0 | len(fields)]) + b"".join(
        _cbor_text(key) + _cbor_text(value) for key, value in fields.items()
    )
