"""Plain boto3 clients on the session's sandbox (the ``sandbox`` fixture of tests/conftest.py),
and helpers to create throwaway functions and wait for queue messages."""

import io
import uuid
import zipfile

import boto3
import pytest
from botocore.config import Config

ROLE_ARN = "arn:aws:iam::123456789012:role/lambda-sandbox"


@pytest.fixture(scope="session")
def aws_client(sandbox):
    """``aws_client("sqs")``: a client on the sandbox that never retries, so a 429 is seen."""
    session = boto3.session.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name=sandbox.region
    )
    config = Config(retries={"max_attempts": 1, "mode": "standard"}, read_timeout=30)
    clients = {}

    def client(service):
        if service not in clients:
            clients[service] = session.client(
                service, endpoint_url=sandbox.endpoint_url, config=config
            )
        return clients[service]

    return client


@pytest.fixture(scope="session")
def awslambda(aws_client):
    return aws_client("lambda")


@pytest.fixture(scope="session")
def sqs(aws_client):
    return aws_client("sqs")


@pytest.fixture(scope="session")
def logs(aws_client):
    return aws_client("logs")


@pytest.fixture
def make_function(awslambda):
    """Creates a function from handler source and returns its unique name."""

    def make(source: str, handler: str = "lambda_function.lambda_handler", **settings) -> str:
        name = f"test-{uuid.uuid4().hex[:12]}"
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            archive.writestr("lambda_function.py", source)
        awslambda.create_function(
            FunctionName=name,
            Runtime="python3.11",
            Role=ROLE_ARN,
            Handler=handler,
            Code={"ZipFile": buffer.getvalue()},
            **settings,
        )
        return name

    return make
