"""The client cache and the credentials it signs with: an environment's role is assumed and
renewed through the session's credential chain; a client replaced in `clients` is the one every
service module uses."""

from datetime import UTC, datetime, timedelta

import pytest

from invocations import aws
from invocations.aws import clients

ROLE = "arn:aws:iam::123456789012:role/triage-reader"


@pytest.fixture
def role_env(sandbox_env):
    sandbox_env.role_arn = ROLE
    sandbox_env.save()
    aws.reset_clients()
    yield sandbox_env
    aws.reset_clients()


@pytest.fixture
def assume_role_calls(monkeypatch):
    """Counts AssumeRole calls; the first answer is already expired, so that botocore must
    refresh before it signs anything."""
    answers = []
    real = clients.assume_role

    def counting(sts, role_arn):
        metadata = real(sts, role_arn)
        if not answers:
            metadata["expiry_time"] = (datetime.now(UTC) - timedelta(minutes=5)).isoformat()
        answers.append(metadata)
        return metadata

    monkeypatch.setattr(clients, "assume_role", counting)
    return answers


@pytest.mark.sandbox
def test_calls_in_an_environment_with_a_role_are_signed_with_the_assumed_role(role_env):
    identity = aws.client(role_env, "sts").get_caller_identity()

    assert identity["Arn"] == (
        f"arn:aws:sts::123456789012:assumed-role/triage-reader/{clients.ROLE_SESSION_NAME}"
    )
    assert aws.list_functions(role_env)  # the seeded functions, read with the role's keys


@pytest.mark.sandbox
def test_expired_assumed_role_credentials_are_refreshed_before_a_call(role_env, assume_role_calls):
    awslambda = aws.client(role_env, "lambda")

    awslambda.list_functions()
    awslambda.list_functions()

    # One answer on loading (expired), one refresh before the first call, none after.
    assert len(assume_role_calls) == 2


@pytest.mark.sandbox
def test_an_environment_without_a_role_never_assumes_one(sandbox_env, assume_role_calls):
    aws.client(sandbox_env, "lambda").list_functions()

    assert assume_role_calls == []


def test_a_client_replaced_in_clients_is_the_one_every_service_module_uses(db, monkeypatch):
    from invocations.models import Environment

    asked = []

    def no_aws(environment, service, read=clients.SHORT):
        asked.append(service)
        raise aws.AwsError("Replaced", "no AWS in this test")

    monkeypatch.setattr(clients, "client", no_aws)
    env = Environment.objects.default()
    now = datetime.now(UTC)
    calls = [
        lambda: aws.invoke(env, "orders", "", "RequestResponse", b"{}"),
        lambda: aws.list_functions(env),
        lambda: aws.list_aliases(env, "orders"),
        lambda: aws.receive_messages(env, "https://sqs/q"),
        lambda: aws.filter_log_events(env, "/aws/lambda/orders", "x", 0),
        lambda: aws.get_metric_data(env, [], now, now),
        lambda: aws.topic_queue_subscriptions(env, "arn:aws:sns:us-east-1:1:t"),
        lambda: aws.bus_queue_targets(env, "default"),
    ]

    for call in calls:
        with pytest.raises(aws.AwsError, match="Replaced"):
            call()

    assert asked == ["lambda", "lambda", "lambda", "sqs", "logs", "cloudwatch", "sns", "events"]
    assert aws.probe(env) == "Replaced"
