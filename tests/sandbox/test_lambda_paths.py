"""Where a function finds itself, as on Lambda: its code at /var/task (also its working
directory and ``LAMBDA_TASK_ROOT``), its layers at /opt, and the variables Lambda defines for
X-Ray and the session.

Follows "Defined runtime environment variables"
(https://docs.aws.amazon.com/lambda/latest/dg/configuration-envvars.html#configuration-envvars-runtime)
and "Packaging your layer content" (https://docs.aws.amazon.com/lambda/latest/dg/packaging-layers.html:
layer content is extracted to /opt).
"""

import io
import json
import os
import uuid
import zipfile

import pytest

from sandbox.execution import private_mounts_available
from tests.sandbox.helpers import invoke

pytestmark = [pytest.mark.sandbox, pytest.mark.timeout(60)]

HANDLER = """
import os, sys

def lambda_handler(event, context):
    marker = "/tmp/marker-" + event.get("marker", "none")
    seen = os.path.exists(marker)
    if event.get("marker"):
        open(marker, "w").close()
    names = ["TMPDIR", "LAMBDA_TASK_ROOT", "AWS_XRAY_DAEMON_ADDRESS", "_AWS_XRAY_DAEMON_ADDRESS",
             "_AWS_XRAY_DAEMON_PORT", "AWS_XRAY_CONTEXT_MISSING", "AWS_SESSION_TOKEN", "PATH"]
    return {
        "env": {name: os.environ.get(name) for name in names},
        "cwd": os.getcwd(),
        "file": __file__,
        "code": sorted(os.listdir("/var/task")) if os.path.isdir("/var/task") else None,
        "opt": sorted(os.listdir("/opt")) if os.path.isdir("/opt") else None,
        "code_writable": os.access("/var/task", os.W_OK),
        "path": sys.path,
        "marker_seen": seen,
    }
"""


def answer(awslambda, name: str, event=None) -> dict:
    response = invoke(awslambda, name, event or {})
    assert "FunctionError" not in response, response["Payload"]
    return json.loads(response["Payload"])


def test_the_xray_and_session_variables_are_set(awslambda, make_function):
    env = answer(awslambda, make_function(HANDLER))["env"]

    assert env["AWS_XRAY_DAEMON_ADDRESS"] == "169.254.79.129:2000"
    assert (env["_AWS_XRAY_DAEMON_ADDRESS"], env["_AWS_XRAY_DAEMON_PORT"]) == (
        "169.254.79.129",
        "2000",
    )
    assert env["AWS_XRAY_CONTEXT_MISSING"] == "LOG_ERROR"
    assert env["AWS_SESSION_TOKEN"]


@pytest.mark.skipif(
    not private_mounts_available(),
    reason="this platform cannot give a process a private mount namespace",
)
def test_the_code_is_at_var_task_and_the_layers_at_opt(awslambda, make_function):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("bin/tool", "#!/bin/sh\n")
        archive.writestr("python/helper.py", "")
    layer = awslambda.publish_layer_version(
        LayerName="paths", Content={"ZipFile": buffer.getvalue()}
    )
    plain = make_function(HANDLER)
    layered = make_function(HANDLER, Layers=[layer["LayerVersionArn"]])

    without_layers = answer(awslambda, plain)
    with_layers = answer(awslambda, layered)

    assert without_layers["env"]["LAMBDA_TASK_ROOT"] == "/var/task"
    assert without_layers["cwd"] == "/var/task"
    assert without_layers["file"] == "/var/task/lambda_function.py"
    assert without_layers["code"] == ["lambda_function.py"]
    assert without_layers["code_writable"] is False  # read-only, as on Lambda
    assert without_layers["opt"] == []  # the host's /opt is not the function's
    assert with_layers["opt"] == ["bin", "python"]
    assert with_layers["env"]["PATH"].endswith(":/opt/bin")
    assert without_layers["path"][-4:][0] == "/var/runtime"  # then the standard library


@pytest.mark.skipif(
    not private_mounts_available(),
    reason="this platform cannot give a process a private mount namespace",
)
def test_each_environment_has_its_own_literal_tmp(awslambda, make_function):
    marker = uuid.uuid4().hex
    writer, reader = make_function(HANDLER), make_function(HANDLER)

    first = answer(awslambda, writer, {"marker": marker})
    again = answer(awslambda, writer, {"marker": marker})
    elsewhere = answer(awslambda, reader, {"marker": marker})

    assert first["env"]["TMPDIR"] == "/tmp"
    assert (first["marker_seen"], again["marker_seen"], elsewhere["marker_seen"]) == (
        False,
        True,
        False,
    )
    assert not os.path.exists(f"/tmp/marker-{marker}")  # nor is it the host's /tmp
