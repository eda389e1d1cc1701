"""Execution environments as on Lambda: AWS's Python runtime in a long-lived process that keeps
module state between warm invocations, until a timeout, a crash, an init error or running out
of memory replaces it; concurrent invocations get their own environments."""

import base64
import io
import json
import re
import threading
import uuid
import zipfile
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.sandbox.conftest import ROLE_ARN
from tests.sandbox.helpers import invoke
from tests.waiting import wait_until

pytestmark = [pytest.mark.sandbox, pytest.mark.timeout(90)]

COUNTER = (
    "import os\nimport tempfile\nimport time\n\ncount = 0\n\n"
    "def lambda_handler(event, context):\n"
    "    global count\n"
    "    count += 1\n"
    "    time.sleep(event.get('sleep', 0))\n"
    "    return {'count': count, 'pid': os.getpid(), 'tmp': tempfile.gettempdir()}\n"
)


def answer(response) -> dict:
    assert "FunctionError" not in response, response["Payload"]
    return json.loads(response["Payload"])


def tail_of(response) -> str:
    return base64.b64decode(response["LogResult"]).decode("utf-8", errors="replace")


def test_module_state_lives_on_while_warm_and_a_timeout_starts_afresh(awslambda, make_function):
    name = make_function(COUNTER, Timeout=1)

    warm = [answer(invoke(awslambda, name))["count"] for _ in range(3)]
    timed_out = invoke(awslambda, name, {"sleep": 3})
    after = answer(invoke(awslambda, name, LogType="Tail"))

    assert warm == [1, 2, 3]
    assert json.loads(timed_out["Payload"])["errorType"] == "Sandbox.Timedout"
    assert after["count"] == 1


def test_only_a_fresh_environment_reports_init_duration(awslambda, make_function):
    name = make_function(COUNTER, Timeout=1)

    cold = invoke(awslambda, name, LogType="Tail")
    warm = invoke(awslambda, name, LogType="Tail")
    invoke(awslambda, name, {"sleep": 3})
    replaced = invoke(awslambda, name, LogType="Tail")

    assert "Init Duration" in tail_of(cold)
    assert "Init Duration" not in tail_of(warm)
    assert "Init Duration" in tail_of(replaced)


def test_tmp_belongs_to_the_environment_and_persists_while_warm(awslambda, make_function):
    name = make_function(
        "import os\nimport tempfile\n\n"
        "def lambda_handler(event, context):\n"
        "    path = os.path.join(tempfile.gettempdir(), 'seen')\n"
        "    seen = os.path.exists(path)\n"
        "    open(path, 'w').close()\n"
        "    return seen\n"
    )
    other = make_function(
        "import os\nimport tempfile\n\n"
        "def lambda_handler(event, context):\n"
        "    return os.path.exists(os.path.join(tempfile.gettempdir(), 'seen'))\n"
    )

    first, second = (json.loads(invoke(awslambda, name)["Payload"]) for _ in range(2))
    elsewhere = json.loads(invoke(awslambda, other)["Payload"])

    assert (first, second, elsewhere) == (False, True, False)


def test_two_concurrent_invocations_get_two_environments(awslambda, make_function):
    name = make_function(COUNTER, Timeout=10)
    both_running = threading.Barrier(2)

    def call(_):
        both_running.wait(timeout=10)
        return answer(invoke(awslambda, name, {"sleep": 1}, LogType="Tail"))

    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(call, range(2)))

    assert [result["count"] for result in results] == [1, 1]
    assert results[0]["pid"] != results[1]["pid"]
    # Each has its own /tmp (both may call it /tmp, as on Lambda): see the test below.


def test_new_code_never_meets_an_old_environment(awslambda, make_function):
    name = make_function(COUNTER)
    answer(invoke(awslambda, name))
    answer(invoke(awslambda, name))

    awslambda.update_function_code(FunctionName=name, ZipFile=zipped(COUNTER + "\n# v2\n"))
    after_update = answer(invoke(awslambda, name))
    awslambda.publish_version(FunctionName=name)
    version_one = answer(invoke(awslambda, name, Qualifier="1"))

    assert after_update["count"] == 1
    assert version_one["count"] == 1
    assert version_one["pid"] != after_update["pid"]


def test_a_deleted_and_recreated_function_never_meets_the_old_environment(awslambda):
    """ "Lambda execution environment lifecycle": an environment belongs to one function; a
    function deleted and created again under its name is a new function
    (https://docs.aws.amazon.com/lambda/latest/dg/lambda-runtime-environment.html)."""
    name = f"test-{uuid.uuid4().hex[:12]}"
    create = {
        "FunctionName": name,
        "Runtime": "python3.11",
        "Role": ROLE_ARN,
        "Handler": "lambda_function.lambda_handler",
        "Code": {"ZipFile": zipped(COUNTER)},
    }
    awslambda.create_function(**create)
    answer(invoke(awslambda, name))
    before = answer(invoke(awslambda, name))

    awslambda.delete_function(FunctionName=name)
    awslambda.create_function(**create)
    after = answer(invoke(awslambda, name))

    assert before["count"] == 2
    assert after["count"] == 1
    wait_until(lambda: not is_running(before["pid"]), message="the old environment still runs")


def test_a_configuration_update_starts_new_environments(awslambda, make_function):
    """ "Lambda execution environment lifecycle": updating a function's code or configuration
    replaces its environments
    (https://docs.aws.amazon.com/lambda/latest/dg/lambda-runtime-environment.html)."""
    name = make_function(COUNTER)
    answer(invoke(awslambda, name))
    before = answer(invoke(awslambda, name))

    awslambda.update_function_configuration(FunctionName=name, Description="changed")
    after = answer(invoke(awslambda, name))

    assert before["count"] == 2
    assert after["count"] == 1
    wait_until(lambda: not is_running(before["pid"]), message="the old environment still runs")


def is_running(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(") ")[-1][0] != "Z"
    except FileNotFoundError:
        return False


def test_an_exception_at_import_is_an_init_error_and_the_environment_is_replaced(
    awslambda, make_function
):
    name = make_function(
        "print('connecting')\nraise RuntimeError('no database')\n\n"
        "def lambda_handler(event, context):\n    return 1\n"
    )

    first = invoke(awslambda, name, LogType="Tail")
    second = invoke(awslambda, name, LogType="Tail")

    for response in (first, second):
        assert response["FunctionError"] == "Unhandled"
        error = json.loads(response["Payload"])
        assert error["errorType"] == "RuntimeError"
        assert error["errorMessage"] == "no database"
        log = tail_of(response)
        assert "connecting" in log
        assert "[ERROR] RuntimeError: no database" in log
        assert "Init Duration" in log
        assert "\tStatus: error\tError Type: RuntimeError" in log


def test_a_handler_over_its_memory_size_is_killed_out_of_memory(awslambda, make_function):
    name = make_function(
        "count = 0\n\n"
        "def lambda_handler(event, context):\n"
        "    global count\n"
        "    count += 1\n"
        "    if event.get('hog'):\n"
        "        hoard = []\n"
        "        while True:\n"
        "            hoard.append(bytearray(8 * 1024 * 1024))\n"
        "    return count\n",
        MemorySize=128,
        Timeout=30,
    )
    invoke(awslambda, name)

    response = invoke(awslambda, name, {"hog": True}, LogType="Tail")
    after = invoke(awslambda, name)

    error = json.loads(response["Payload"])
    assert response["FunctionError"] == "Unhandled"
    assert error["errorType"] == "Runtime.OutOfMemory"
    assert error["errorMessage"] == (
        f"RequestId: {response['RequestId']} Error: Runtime exited with error: signal: killed"
    )
    log = tail_of(response)
    assert "Max Memory Used: 128 MB\tStatus: error\tError Type: Runtime.OutOfMemory" in log
    assert json.loads(after["Payload"]) == 1


def test_max_memory_used_is_the_environments_own_peak(awslambda, make_function):
    name = make_function(
        "def lambda_handler(event, context):\n"
        "    block = bytearray(event['mb'] * 1024 * 1024)\n"
        "    block[::4096] = b'x' * len(block[::4096])\n",
        MemorySize=256,
    )

    small = tail_of(invoke(awslambda, name, {"mb": 1}, LogType="Tail"))
    large = tail_of(invoke(awslambda, name, {"mb": 120}, LogType="Tail"))

    used = [int(re.search(r"Max Memory Used: (\d+) MB", log).group(1)) for log in (small, large)]
    assert used[0] < 100
    assert used[1] >= used[0] + 100


def test_the_context_and_environment_are_lambdas(awslambda, make_function):
    name = make_function(
        "import os\n\n"
        "def lambda_handler(event, context):\n"
        "    names = ['AWS_LAMBDA_RUNTIME_API', 'AWS_LAMBDA_INITIALIZATION_TYPE', 'LANG', 'TZ',\n"
        "             'LAMBDA_RUNTIME_DIR', 'LAMBDA_TASK_ROOT', '_HANDLER', '_X_AMZN_TRACE_ID',\n"
        "             'AWS_LAMBDA_LOG_STREAM_NAME', 'AWS_LAMBDA_FUNCTION_VERSION']\n"
        "    return {'env': {key: os.environ.get(key) for key in names},\n"
        "            'arn': context.invoked_function_arn,\n"
        "            'stream': context.log_stream_name}\n"
    )
    awslambda.publish_version(FunctionName=name)
    awslambda.create_alias(FunctionName=name, Name="live", FunctionVersion="1")
    function_arn = awslambda.get_function(FunctionName=name)["Configuration"]["FunctionArn"]

    plain = answer(invoke(awslambda, name))
    through_alias = answer(invoke(awslambda, name, Qualifier="live"))
    version = answer(invoke(awslambda, name, Qualifier="1"))

    env = plain["env"]
    assert re.match(r"^127\.0\.0\.1:\d+$", env["AWS_LAMBDA_RUNTIME_API"])
    assert env["AWS_LAMBDA_INITIALIZATION_TYPE"] == "on-demand"
    assert (env["LANG"], env["TZ"]) == ("en_US.UTF-8", ":UTC")
    assert env["LAMBDA_RUNTIME_DIR"] and env["LAMBDA_TASK_ROOT"]
    assert env["_HANDLER"] == "lambda_function.lambda_handler"
    assert re.match(
        r"^Root=1-[0-9a-f]{8}-[0-9a-f]{24};Parent=[0-9a-f]{16};", env["_X_AMZN_TRACE_ID"]
    )
    assert env["AWS_LAMBDA_LOG_STREAM_NAME"] == plain["stream"]
    assert plain["arn"] == function_arn
    assert through_alias["arn"] == f"{function_arn}:live"
    assert through_alias["env"]["AWS_LAMBDA_FUNCTION_VERSION"] == "1"
    assert version["arn"] == f"{function_arn}:1"


def test_the_client_context_reaches_the_handler(awslambda, make_function):
    name = make_function(
        "def lambda_handler(event, context):\n"
        "    return {'custom': context.client_context.custom,\n"
        "            'app': context.client_context.client.app_title}\n"
    )
    client_context = {"client": {"app_title": "triage"}, "custom": {"tenant": "alice"}}
    encoded = base64.b64encode(json.dumps(client_context).encode()).decode()

    response = invoke(awslambda, name, ClientContext=encoded)

    assert answer(response) == {"custom": {"tenant": "alice"}, "app": "triage"}


def test_a_custom_runtime_runs_its_bootstrap_against_the_runtime_api(awslambda):
    name = f"test-{uuid.uuid4().hex[:12]}"
    awslambda.create_function(
        FunctionName=name,
        Runtime="provided.al2023",
        Role=ROLE_ARN,
        Handler="shout",
        Code={"ZipFile": zipped_bootstrap(PYTHON_BOOTSTRAP)},
    )

    first = invoke(awslambda, name, {"word": "hello"}, LogType="Tail")
    second = invoke(awslambda, name, {"word": "again"})
    failed = invoke(awslambda, name, {"fail": True})

    assert json.loads(first["Payload"]) == {"shout": "HELLO", "handler": "shout", "served": 1}
    assert json.loads(second["Payload"])["served"] == 2
    assert f"bootstrap got {first['RequestId']}" in tail_of(first)
    assert failed["FunctionError"] == "Unhandled"
    assert json.loads(failed["Payload"]) == {"errorMessage": "asked to", "errorType": "Refused"}


def test_a_custom_runtime_without_a_bootstrap_answers_invalid_entrypoint(awslambda, make_function):
    name = f"test-{uuid.uuid4().hex[:12]}"
    awslambda.create_function(
        FunctionName=name,
        Runtime="provided.al2",
        Role=ROLE_ARN,
        Handler="none",
        Code={"ZipFile": zipped("print('not a bootstrap')\n")},
    )

    response = invoke(awslambda, name)

    assert json.loads(response["Payload"])["errorType"] == "Runtime.InvalidEntrypoint"


def test_a_bootstrap_that_cannot_be_executed_answers_invalid_entrypoint(awslambda):
    name = f"test-{uuid.uuid4().hex[:12]}"
    awslambda.create_function(
        FunctionName=name,
        Runtime="provided.al2023",
        Role=ROLE_ARN,
        Handler="none",
        Code={"ZipFile": zipped_bootstrap("no interpreter line, so exec refuses it\n")},
    )

    response = invoke(awslambda, name)

    error = json.loads(response["Payload"])
    assert response["FunctionError"] == "Unhandled"
    assert error["errorType"] == "Runtime.InvalidEntrypoint"
    assert "fork/exec /var/task/bootstrap" in error["errorMessage"]


PYTHON_BOOTSTRAP = """#!/usr/bin/env python3
import json
import os
import urllib.request

api = f"http://{os.environ['AWS_LAMBDA_RUNTIME_API']}/2018-06-01/runtime/invocation"
served = 0
while True:
    with urllib.request.urlopen(f"{api}/next") as answer:
        request_id = answer.headers["Lambda-Runtime-Aws-Request-Id"]
        event = json.loads(answer.read())
    served += 1
    print(f"bootstrap got {request_id}", flush=True)
    if event.get("fail"):
        url = f"{api}/{request_id}/error"
        body = {"errorMessage": "asked to", "errorType": "Refused"}
    else:
        url = f"{api}/{request_id}/response"
        body = {"shout": event["word"].upper(), "handler": os.environ["_HANDLER"], "served": served}
    urllib.request.urlopen(urllib.request.Request(url, data=json.dumps(body).encode())).close()
"""


def zipped(source: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("lambda_function.py", source)
    return buffer.getvalue()


def zipped_bootstrap(source: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        info = zipfile.ZipInfo("bootstrap")
        info.external_attr = 0o755 << 16
        archive.writestr(info, source)
    return buffer.getvalue()
