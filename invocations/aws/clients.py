"""Clients for AWS (or the sandbox): one per environment, service and read timeout, built once
and shared between threads; the credentials they sign with; AWS failures as `AwsError`.

Retries: the Invoke client makes one attempt, so that Lambda's TooManyRequestsException
reaches our code, which retries visibly with backoff and jitter. Every other client (the list,
describe, log, metric and queue calls: control-plane APIs with account-wide request quotas,
15 a second for most of Lambda's) uses botocore's adaptive mode: it retries a throttled call with
backoff and slows its own sending rate to what AWS accepts, shared by every thread of the client.

`counting()` counts the HTTP requests (retries included) made in its block, by operation: the
inventory sync reports its calls per run.
"""

from __future__ import annotations

import contextlib
import contextvars
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, TypeVar, overload

import boto3
import botocore.session
from botocore.config import Config
from botocore.credentials import CredentialProvider, RefreshableCredentials
from botocore.exceptions import BotoCoreError, ClientError
from django.conf import settings

from invocations.aws import permissions

if TYPE_CHECKING:
    from mypy_boto3_cloudwatch import CloudWatchClient
    from mypy_boto3_events import EventBridgeClient
    from mypy_boto3_lambda import LambdaClient
    from mypy_boto3_logs import CloudWatchLogsClient
    from mypy_boto3_sns import SNSClient
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sts import STSClient

    from invocations.models import Environment

_clients: dict[tuple[object, ...], Any] = {}
_lock = threading.Lock()


@dataclass(frozen=True)
class AwsError(Exception):
    """An AWS call failed: `code` is AWS's error code (or a botocore class name)."""

    code: str
    message: str
    status: int | None = None

    @property
    def access_denied(self) -> bool:
        """AWS refused the call for want of a permission."""
        return self.code in permissions.ACCESS_DENIED_CODES

    def __str__(self) -> str:
        if self.access_denied:
            return permissions.denial(self.message)
        return f"{self.code}: {self.message}"


# How long a client waits for an answer. Only Invoke waits for the function itself (up to
# Lambda's 900 s maximum); list, describe, log and queue calls answer in seconds, so they use a
# short read timeout and a slow AWS cannot hold a web request or a worker for minutes.
INVOKE = "invoke"  # AWS_READ_TIMEOUT
SHORT = "short"  # AWS_SHORT_READ_TIMEOUT
RECEIVE = "receive"  # an SQS long poll: its wait time plus the short timeout
PROBE = "probe"  # the health page: one quick attempt

# The name our assumed-role sessions carry in CloudTrail.
ROLE_SESSION_NAME = "lambda-triage"


# Attempts of a control-plane call in adaptive mode: enough to ride out a burst past a quota.
CONTROL_PLANE_ATTEMPTS = 5


def _config(service: str, read: str) -> Config:
    # Invoke: one attempt, so that a 429 is ours to retry; the health probe: one quick attempt.
    one_attempt = read in (INVOKE, PROBE)
    retries: dict[str, Any] = (
        {"max_attempts": 1, "mode": "standard"}
        if one_attempt
        else {"max_attempts": CONTROL_PLANE_ATTEMPTS, "mode": "adaptive"}
    )
    read_timeout = {
        INVOKE: settings.AWS_READ_TIMEOUT,
        SHORT: settings.AWS_SHORT_READ_TIMEOUT,
        RECEIVE: settings.AWS_SHORT_READ_TIMEOUT + 20,
        PROBE: 3,
    }[read]
    return Config(
        connect_timeout=2 if read == PROBE else settings.AWS_CONNECT_TIMEOUT,
        read_timeout=read_timeout,
        retries=retries,  # type: ignore[arg-type]
        max_pool_connections=20,
    )


def assume_role(sts: STSClient, role_arn: str) -> dict[str, str]:
    """sts:AssumeRole, answered in the metadata shape RefreshableCredentials reads."""
    answer = sts.assume_role(RoleArn=role_arn, RoleSessionName=ROLE_SESSION_NAME)
    creds = answer["Credentials"]
    return {
        "access_key": creds["AccessKeyId"],
        "secret_key": creds["SecretAccessKey"],
        "token": creds["SessionToken"],
        "expiry_time": creds["Expiration"].isoformat(),
    }


class AssumedRoleProvider(CredentialProvider):
    """The environment's role, assumed with the credentials of its profile (or the default
    chain). botocore asks each provider of a session's chain in turn; this one goes first, and
    the RefreshableCredentials it gives renew themselves before they expire (an hour by
    default), so a long-lived cached client never signs with expired keys."""

    METHOD = "lambda-triage-assume-role"
    CANONICAL_NAME = "LambdaTriageAssumeRole"

    def __init__(self, sts: STSClient, role_arn: str) -> None:
        super().__init__()
        self._sts = sts
        self._role_arn = role_arn

    def _fetch(self) -> dict[str, str]:
        # Looked up at each call, so a test can count the AssumeRole calls.
        return assume_role(self._sts, self._role_arn)

    def load(self) -> RefreshableCredentials:
        return RefreshableCredentials.create_from_metadata(
            metadata=self._fetch(), refresh_using=self._fetch, method=self.METHOD
        )


def _session(environment: Environment) -> boto3.session.Session:
    session = boto3.session.Session(
        profile_name=environment.profile or None, region_name=environment.region
    )
    if not environment.role_arn:
        return session
    sts = session.client(
        "sts",
        endpoint_url=environment.endpoint_url or None,
        config=Config(connect_timeout=settings.AWS_CONNECT_TIMEOUT),
    )
    core = botocore.session.Session()
    # The supported way to give a session its own credentials source: a provider in the
    # session's resolver chain, ahead of the environment variables.
    core.get_component("credential_provider").insert_before(
        "env", AssumedRoleProvider(sts, environment.role_arn)
    )
    return boto3.session.Session(botocore_session=core, region_name=environment.region)


@overload
def client(
    environment: Environment, service: Literal["lambda"], read: str = SHORT
) -> LambdaClient: ...
@overload
def client(environment: Environment, service: Literal["sqs"], read: str = SHORT) -> SQSClient: ...
@overload
def client(
    environment: Environment, service: Literal["logs"], read: str = SHORT
) -> CloudWatchLogsClient: ...
@overload
def client(environment: Environment, service: Literal["sns"], read: str = SHORT) -> SNSClient: ...
@overload
def client(
    environment: Environment, service: Literal["events"], read: str = SHORT
) -> EventBridgeClient: ...
@overload
def client(
    environment: Environment, service: Literal["cloudwatch"], read: str = SHORT
) -> CloudWatchClient: ...
@overload
def client(environment: Environment, service: Literal["sts"], read: str = SHORT) -> STSClient: ...
@overload
def client(environment: Environment, service: str, read: str = SHORT) -> Any: ...
def client(environment: Environment, service: str, read: str = SHORT) -> Any:
    """A boto3 client for `service` in `environment` with the `read` timeout (INVOKE, SHORT,
    RECEIVE or PROBE), built once and shared between threads. Raises AwsError when the
    credentials cannot be had (an environment's role refused)."""
    key = (
        environment.pk,
        environment.region,
        environment.endpoint_url,
        environment.profile,
        environment.role_arn,
        service,
        read,
    )
    with _lock:
        found = _clients.get(key)
        if found is None:
            try:
                # The service is a name chosen at run time; the overloads above type each client.
                found = _session(environment).client(  # type: ignore[call-overload]
                    service,
                    endpoint_url=environment.endpoint_url or None,
                    config=_config(service, read),
                )
            except (ClientError, BotoCoreError) as exc:
                # Building a client resolves its credentials: an environment's role is assumed
                # here, and a refusal is an AWS failure like any other.
                raise as_aws_error(exc) from exc
            found.meta.events.register("before-send", _count_request)
            _clients[key] = found
        return found


# The requests counted by the innermost `counting()` block of this thread (or task).
_tally: contextvars.ContextVar[Counter[str] | None] = contextvars.ContextVar(
    "aws_request_tally", default=None
)


def _count_request(event_name: str = "", **kwargs: Any) -> None:
    """botocore's before-send hook, once per HTTP request (each retry too). Returns None, so
    the request is sent as it is."""
    tally = _tally.get()
    if tally is not None:
        # "before-send.lambda.ListFunctions" -> "lambda.ListFunctions"
        tally[event_name.split(".", 1)[-1]] += 1


@contextlib.contextmanager
def counting() -> Iterator[Counter[str]]:
    """Count the AWS requests made in the block, by "service.Operation"."""
    tally: Counter[str] = Counter()
    token = _tally.set(tally)
    try:
        yield tally
    finally:
        _tally.reset(token)


def reset_clients() -> None:
    """Forget cached clients (tests; a changed environment)."""
    with _lock:
        _clients.clear()


def as_aws_error(exc: Exception) -> AwsError:
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        return AwsError(error.get("Code", "ClientError"), error.get("Message", str(exc)), status)
    if isinstance(exc, BotoCoreError):
        return AwsError(type(exc).__name__, str(exc))
    raise exc


_Answer = TypeVar("_Answer")


def call(method: Callable[..., _Answer], **kwargs: Any) -> _Answer:
    """One AWS call; a failure raises AwsError."""
    try:
        return method(**kwargs)
    except (ClientError, BotoCoreError) as exc:
        raise as_aws_error(exc) from exc


def pages(paginated: Iterable[_Answer]) -> Iterator[_Answer]:
    """The pages of a boto3 paginator; a failure raises AwsError. A paginator calls AWS while
    it is iterated, not when it is built, so the iteration is what must be guarded. Stopping
    early stops the calls: the next page is asked for only when it is wanted."""
    try:
        yield from paginated
    except (ClientError, BotoCoreError) as exc:
        raise as_aws_error(exc) from exc


def probe(environment: Environment) -> str:
    """One quick Lambda call (health page): "" when the API answers, else why not. Uses the
    environment's profile and role like every other call, with a short timeout."""
    try:
        call(client(environment, "lambda", PROBE).list_functions, MaxItems=1)
    except AwsError as error:
        return error.code
    return ""
