"""Secrets hidden where events really carry them: JSON encoded inside strings (an API Gateway
body, an SNS Message, an SQS record body), headers, query strings, form bodies, and the log
lines and error messages a Viewer reads."""

import base64
import json

import pytest

from invocations.access.actor import Actor
from invocations.access.redaction import REDACTED, redact, redact_text
from invocations.failures import grouping
from invocations.invoking import lifecycle
from invocations.models import ExecutionRecord, FailureGroup
from tests import factories


def api_gateway_login(password="wonderland"):
    return {
        "resource": "/login",
        "path": "/login",
        "httpMethod": "POST",
        "headers": {
            "Authorization": "Bearer gateway-abc",
            "Cookie": "session=s3ss",
            "Accept": "*/*",
        },
        "multiValueHeaders": {"X-Api-Key": ["key-123"], "Accept": ["*/*"]},
        "queryStringParameters": {"page": "1"},
        "rawQueryString": "page=1&access_token=qs-token",
        "requestContext": {"requestId": "c0ffee", "stage": "prod"},
        "body": json.dumps({"username": "alice", "password": password}),
        "isBase64Encoded": False,
    }


def sns_event():
    message = {"order": 42, "card": {"number": "4111", "secret": "sns-secret"}}
    return {"Records": [{"EventSource": "aws:sns", "Sns": {"Message": json.dumps(message)}}]}


def sqs_event():
    body = {"user": "ann", "password": "sqs-password", "inner": json.dumps({"token": "deep"})}
    return {"Records": [{"messageId": "m1", "body": json.dumps(body), "eventSource": "aws:sqs"}]}


def test_the_password_in_an_api_gateway_body_headers_and_query_string_is_hidden():
    shown = redact(api_gateway_login())

    assert json.loads(shown["body"]) == {"username": "alice", "password": REDACTED}
    assert shown["headers"] == {"Authorization": REDACTED, "Cookie": REDACTED, "Accept": "*/*"}
    assert shown["multiValueHeaders"] == {"X-Api-Key": REDACTED, "Accept": ["*/*"]}
    assert shown["rawQueryString"] == f"page=1&access_token={REDACTED}"


def test_json_inside_an_sns_message_and_an_sqs_body_is_walked():
    sns = redact(sns_event())
    sqs = redact(sqs_event())

    assert json.loads(sns["Records"][0]["Sns"]["Message"])["card"]["secret"] == REDACTED
    body = json.loads(sqs["Records"][0]["body"])
    assert body["password"] == REDACTED
    assert json.loads(body["inner"]) == {"token": REDACTED}


def test_a_form_encoded_body_and_a_base64_body_are_redacted():
    form = redact({"body": "username=ann&password=hunter2"})
    encoded = redact(
        {"isBase64Encoded": True, "body": base64.b64encode(b"user=ann&password=b64pw").decode()}
    )

    assert form == {"body": f"username=ann&password={REDACTED}"}
    assert base64.b64decode(encoded["body"]).decode() == f"user=ann&password={REDACTED}"


def test_json_nested_in_strings_deeper_than_the_bound_is_left_as_text_without_failing():
    value: object = {"password": "bottom"}
    for _ in range(8):
        value = {"wrapped": json.dumps(value)}

    shown = redact(value)

    assert "bottom" not in json.dumps(shown)


def test_log_lines_hide_key_value_quoted_and_header_forms():
    text = (
        "login with password=hunter2&user=ann\n"
        'event {"username": "ann", "token": "tok-1", "n": 1}\n'
        "{'body': '{\"password\": \"py-dict\"}'}\n"
        "Authorization: Bearer abc.def\n"
        "nothing secret here: 42"
    )

    shown = redact_text(text)

    for secret in ("hunter2", "tok-1", "py-dict", "abc.def"):
        assert secret not in shown
    assert "user=ann" in shown and '"n": 1' in shown and "nothing secret here: 42" in shown


@pytest.fixture
def secret_records(db):
    failed = factories.failure_record(
        payload=api_gateway_login(),
        message="login failed for password=hunter2",
    )
    sns = factories.failure_record(payload=sns_event(), function="notify")
    sqs = factories.failure_record(payload=sqs_event(), function="billing")
    ExecutionRecord.objects.filter(pk=failed.pk).update(
        stack_trace='File "h.py", line 3\n  Authorization: Bearer trace-secret'
    )
    grouping.group_records([failed, sns, sqs])
    return failed, sns, sqs


SECRETS = [
    "wonderland",
    "gateway-abc",
    "s3ss",
    "key-123",
    "qs-token",
    "hunter2",
    "trace-secret",
    "sns-secret",
    "sqs-password",
    "deep",
]


def _pages_text(client, records) -> str:
    urls = [f"/records/{r.pk}/" for r in records]
    urls += ["/records/", "/", f"/groups/{FailureGroup.objects.get(function_name='orders').pk}/"]
    bodies = []
    for url in urls:
        response = client.get(url)
        assert response.status_code == 200, url
        bodies.append(response.content.decode())
    return "\n".join(bodies)


@pytest.mark.django_db
def test_a_viewer_sees_none_of_the_secrets_on_the_pages(client, bob, secret_records):
    client.force_login(bob)

    text = _pages_text(client, secret_records)

    assert [secret for secret in SECRETS if secret in text] == []
    assert REDACTED in text


@pytest.mark.django_db
def test_an_admin_sees_them_raw(client, admin_user, secret_records):
    client.force_login(admin_user)

    text = _pages_text(client, secret_records)

    for secret in ["wonderland", "hunter2", "trace-secret"]:
        assert secret in text


@pytest.mark.sandbox
@pytest.mark.django_db
def test_a_viewer_does_not_see_the_token_api_login_answers(client, bob, admin_user, sandbox_env):
    invocation = lifecycle.start(
        environment=sandbox_env,
        function_name="api-login",
        payload=json.dumps(api_gateway_login()),
        actor=Actor.person(admin_user),
    )
    lifecycle.run(invocation.pk)
    invocation.refresh_from_db()
    token = json.loads(json.loads(invocation.response_payload)["body"])["token"]
    assert token.startswith("token-for-alice-")

    client.force_login(bob)
    as_viewer = client.get(f"/invocations/{invocation.pk}/").content.decode()
    client.force_login(admin_user)
    as_admin = client.get(f"/invocations/{invocation.pk}/").content.decode()

    assert token not in as_viewer and "wonderland" not in as_viewer
    assert token in as_admin
