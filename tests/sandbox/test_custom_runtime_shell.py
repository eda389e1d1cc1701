"""AWS's own custom-runtime tutorial, as published: a ``#!/bin/sh`` bootstrap that uses bash
(``set -o pipefail``, ``source``, ``function``), because ``/bin/sh`` is bash on Amazon Linux 2023.

Follows "Tutorial: Building a custom runtime"
(https://docs.aws.amazon.com/lambda/latest/dg/runtimes-walkthrough.html) and "OS-only runtimes"
(https://docs.aws.amazon.com/lambda/latest/dg/runtimes-provided.html).
"""

import io
import json
import shutil
import uuid
import zipfile

import pytest

from tests.sandbox.conftest import ROLE_ARN
from tests.sandbox.helpers import invoke

pytestmark = [
    pytest.mark.sandbox,
    pytest.mark.timeout(60),
    pytest.mark.skipif(shutil.which("curl") is None, reason="the tutorial's bootstrap uses curl"),
]

BOOTSTRAP = """#!/bin/sh

set -euo pipefail

# Initialization - load function handler
source $LAMBDA_TASK_ROOT/"$(echo $_HANDLER | cut -d. -f1).sh"

# Processing
while true
do
  HEADERS="$(mktemp)"
  # Get an event. The HTTP request will block until one is received
  EVENT_DATA=$(curl -sS -LD "$HEADERS" "http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime/invocation/next")

  # Extract request ID by scraping response headers received above
  REQUEST_ID=$(grep -Fi Lambda-Runtime-Aws-Request-Id "$HEADERS" | tr -d '[:space:]' | cut -d: -f2)

  # Run the handler function from the script
  RESPONSE=$($(echo "$_HANDLER" | cut -d. -f2) "$EVENT_DATA")

  # Send the response
  curl "http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime/invocation/$REQUEST_ID/response"  -d "$RESPONSE"
done
"""  # noqa: E501 (the tutorial's own lines)

FUNCTION = """function handler () {
  EVENT_DATA=$1

  RESPONSE="{\\"statusCode\\": 200, \\"body\\": \\"Hello from Lambda!\\"}"
  echo $RESPONSE
}
"""


def test_the_tutorials_sh_bootstrap_runs_with_bash(awslambda):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        info = zipfile.ZipInfo("bootstrap")
        info.external_attr = 0o755 << 16
        archive.writestr(info, BOOTSTRAP)
        archive.writestr("function.sh", FUNCTION)
    name = f"test-{uuid.uuid4().hex[:12]}"
    awslambda.create_function(
        FunctionName=name,
        Runtime="provided.al2023",
        Role=ROLE_ARN,
        Handler="function.handler",
        Code={"ZipFile": buffer.getvalue()},
    )

    response = invoke(awslambda, name, {"text": "Hello"})

    assert "FunctionError" not in response, response["Payload"]
    assert json.loads(response["Payload"]) == {"statusCode": 200, "body": "Hello from Lambda!"}
