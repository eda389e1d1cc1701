"""`make run`'s Redis keeps queued tasks across a restart (append-only file under .run/)."""

import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest
import redis

from tests.conftest import free_port
from tests.waiting import wait_until

ROOT = Path(__file__).resolve().parents[2]


def _procfile_command(name: str) -> str:
    for line in (ROOT / "Procfile").read_text().splitlines():
        if line.startswith(f"{name}:"):
            return line.split(":", 1)[1].strip()
    raise AssertionError(f"no {name} line in the Procfile")


def _start(command: str, cwd: Path, port: int) -> subprocess.Popen:
    # As honcho runs it: through the shell, in the project folder. Here a stand-in folder, so
    # that its data (.run/redis) is the test's own: it reaches the project's virtualenv and code
    # as the project folder would.
    venv = cwd / ".venv"
    if not venv.exists():
        venv.symlink_to(ROOT / ".venv")
    process = subprocess.Popen(
        ["/bin/sh", "-c", command],
        cwd=cwd,
        env={**os.environ, "REDIS_PORT": str(port), "PYTHONPATH": str(ROOT)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # as honcho starts each process: a group of its own
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return process
        except OSError:
            if process.poll() is not None:
                pytest.fail("redis-server from the Procfile exited at start")
            time.sleep(0.05)
    pytest.fail("redis-server from the Procfile did not start within 10 s")


def _stop(process: subprocess.Popen, port: int) -> None:
    # What honcho sends on Ctrl-C: SIGTERM to the process's group (the shell, devrun and
    # redis-server). Sent to the shell alone, it left devrun and its redis-server running.
    os.killpg(process.pid, signal.SIGTERM)
    process.wait(timeout=10)
    wait_until(lambda: not _answers(port), message="redis-server from the Procfile still answers")


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


def test_a_queued_task_is_still_there_after_redis_restarts(tmp_path):
    command, port = _procfile_command("redis"), free_port()
    process = _start(command, tmp_path, port)
    try:
        client = redis.Redis(port=port)
        client.lpush("celery", '{"task": "invocations.tasks.requeue_unsent"}')
    finally:
        _stop(process, port)

    process = _start(command, tmp_path, port)
    try:
        waiting = redis.Redis(port=port).llen("celery")
    finally:
        _stop(process, port)

    assert waiting == 1
    assert list((tmp_path / ".run" / "redis").iterdir()), "the data lives under .run/redis"
