"""The pool of warm environments on its own, with real runtime processes: an idle environment
is stopped after the idle period, and the least recently used goes first when too many wait."""

import os
import time
import uuid

import pytest

from sandbox import code_cache
from sandbox.environments import EnvironmentPool
from sandbox.execution import ExecutionEnvironment, LaunchSpec, python_command
from sandbox.runtime_api import Event
from tests.waiting import wait_until

pytestmark = [pytest.mark.sandbox, pytest.mark.timeout(60)]

HANDLER = "import os\n\ndef lambda_handler(event, context):\n    return os.getpid()\n"


@pytest.fixture
def new_environment(tmp_path):
    (tmp_path / "lambda_function.py").write_text(HANDLER)
    created = []

    def make() -> ExecutionEnvironment:
        env = {
            "PATH": os.environ.get("PATH", ""),
            "AWS_EXECUTION_ENV": "AWS_Lambda_python3.11",
            # The runtime starts without site: its own packages come from PYTHONPATH.
            "PYTHONPATH": str(code_cache.runtime_site_packages()),
        }
        spec = LaunchSpec(python_command("lambda_function.lambda_handler"), env, str(tmp_path), 128)
        tmp_dir = tmp_path / f"tmp-{uuid.uuid4().hex[:8]}"
        tmp_dir.mkdir()
        environment = ExecutionEnvironment(spec, "stream", tmp_dir)
        environment.start()
        created.append(environment)
        return environment

    yield make
    for environment in created:
        environment.close()
    code_cache.cleanup()


def run_once(environment: ExecutionEnvironment) -> int:
    event = Event(str(uuid.uuid4()), b"{}", int(time.time() * 1000) + 5000, "arn", "Root=1-0-0")
    outcome = environment.invoke(event, timeout_s=5)
    assert outcome.kind == "response", outcome
    return int(outcome.body)


def is_running(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(") ")[-1][0] != "Z"
    except FileNotFoundError:
        return False


def test_an_idle_environment_is_stopped_after_the_idle_period(new_environment):
    pool = EnvironmentPool(idle_ttl_s=0.5)
    environment = new_environment()
    pool.add(environment)
    pid = run_once(environment)

    pool.release("key", environment)

    assert is_running(pid)
    wait_until(lambda: not is_running(pid))
    assert pool.acquire("key") is None
    pool.close_all()


def test_a_warm_environment_is_reused_while_idle_for_less_than_the_period(new_environment):
    pool = EnvironmentPool(idle_ttl_s=30)
    environment = new_environment()
    pool.add(environment)
    first = run_once(environment)
    pool.release("key", environment)

    again = pool.acquire("key")

    assert again is environment
    assert run_once(again) == first
    pool.close_all()
    wait_until(lambda: not is_running(first))


def test_past_the_idle_limit_the_least_recently_used_environment_is_stopped(new_environment):
    pool = EnvironmentPool(idle_ttl_s=30, max_idle=1)
    older, newer = new_environment(), new_environment()
    pids = []
    for environment in (older, newer):
        pool.add(environment)
        pids.append(run_once(environment))

    pool.release("a", older)
    pool.release("b", newer)

    wait_until(lambda: not is_running(pids[0]))
    assert is_running(pids[1])
    assert pool.acquire("a") is None
    assert pool.acquire("b") is newer
    pool.close_all()
