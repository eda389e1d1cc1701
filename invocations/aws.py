"""The one module that talks to AWS (or the sandbox): a cached client per environment and service.

Retries: botocore's standard mode would retry a 429 from Lambda quietly; we set it so that
TooManyRequestsException reaches our code, which retries visibly with backoff and jitter.
"""

import threading
from dataclasses import dataclass

import boto3
import botocore.session
from botocore.config import Config
from botocore.credentials import RefreshableCredentials
from botocore.exceptions import BotoCoreError, ClientError
from django.conf import settings

_clients: dict[tuple, object] = {}
_lock = threading.Lock()


@dataclass(frozen=True)
class AwsError(Exception):
    """An AWS call failed: `code` is AWS's error code (or a botocore class name)."""

    code: str
    message: str
    status: int | None = None

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


def _config(service: str) -> Config:
    # Lambda: one attempt, so that a 429 is ours to retry. Others: botocore's standard retries.
    attempts = 1 if service == "lambda" else 3
    return Config(
        connect_timeout=settings.AWS_CONNECT_TIMEOUT,
        read_timeout=settings.AWS_READ_TIMEOUT if service == "lambda" else 30,
        retries={"max_attempts": attempts, "mode": "standard"},
        max_pool_connections=20,
    )


def _session(environment) -> boto3.session.Session:
    session = boto3.session.Session(
        profile_name=environment.profile or None, region_name=environment.region
    )
    if not environment.role_arn:
        return session
    # Assumed-role credentials expire after an hour: botocore refreshes them before they do.
    sts = session.client("sts", config=Config(connect_timeout=settings.AWS_CONNECT_TIMEOUT))

    def fetch() -> dict:
        creds = sts.assume_role(RoleArn=environment.role_arn, RoleSessionName="lambda-triage")
        creds = creds["Credentials"]
        return {
            "access_key": creds["AccessKeyId"],
            "secret_key": creds["SecretAccessKey"],
            "token": creds["SessionToken"],
            "expiry_time": creds["Expiration"].isoformat(),
        }

    core = botocore.session.get_session()
    core._credentials = RefreshableCredentials.create_from_metadata(fetch(), fetch, "assume-role")
    return boto3.session.Session(botocore_session=core, region_name=environment.region)


def client(environment, service: str):
    """A boto3 client for `service` in `environment`, built once and shared between threads."""
    key = (
        environment.pk,
        environment.region,
        environment.endpoint_url,
        environment.profile,
        environment.role_arn,
        service,
    )
    with _lock:
        found = _clients.get(key)
        if found is None:
            found = _session(environment).client(
                service,
                endpoint_url=environment.endpoint_url or None,
                config=_config(service),
            )
            _clients[key] = found
        return found


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
