"""Processes the fault tests start, break and start again: a private sandbox on a fixed port, the
poller and a Celery worker as real subprocesses on the test database.

Each process runs in its own session, so `kill()` sends SIGKILL to its whole group (a prefork
worker's children die with it, as when a machine goes away) and nothing outlives the test.
"""

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from django.db import connection

from tests.conftest import free_port

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def database_url() -> str:
    """The URL of the database the tests use right now (pytest-django's test database)."""
    database = connection.settings_dict
    if database["ENGINE"] == "django.db.backends.sqlite3":
        name = str(database["NAME"])
        if name == ":memory:" or name.startswith("file:"):
            raise RuntimeError(
                "the test database is in memory: subprocesses cannot share it "
                "(dashboard/settings_test.py sets a file for SQLite)"
            )
        return f"sqlite:///{name}"
    user = database.get("USER") or ""
    password = f":{database['PASSWORD']}" if database.get("PASSWORD") else ""
    credentials = f"{user}{password}@" if user else ""
    host = database.get("HOST") or "localhost"
    port = f":{database['PORT']}" if database.get("PORT") else ""
    return f"postgres://{credentials}{host}{port}/{database['NAME']}"


def django_env(**extra: str) -> dict:
    """The environment of a subprocess that runs our Django code on the test database."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("AWS_PROFILE")}
    env.update(
        DJANGO_SETTINGS_MODULE="tests.subprocess_settings",
        DATABASE_URL=database_url(),
        PYTHONPATH=os.pathsep.join(filter(None, [str(PROJECT_ROOT), env.get("PYTHONPATH")])),
        PYTHONUNBUFFERED="1",
        LOG_LEVEL="WARNING",
    )
    env.update(extra)
    return env


class Process:
    """A subprocess with its output in a temporary file (read it to say why a test failed)."""

    def __init__(self, command: list[str], env: dict):
        self.command = command
        self.env = env
        descriptor, path = tempfile.mkstemp(prefix="fault-", suffix=".log")
        os.close(descriptor)
        self.log_path = Path(path)
        self.process: subprocess.Popen | None = None

    def start(self) -> "Process":
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                self.command,
                cwd=PROJECT_ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return self

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def wait(self, timeout: float) -> int:
        return self.process.wait(timeout=timeout)

    def kill(self) -> None:
        """SIGKILL to the whole process group: no cleanup, no goodbye."""
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after 10 s."""
        if not self.running:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.kill()

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]


def manage(*args: str, **env: str) -> Process:
    """`python manage.py ARGS` on the test database."""
    return Process([sys.executable, "manage.py", *args], django_env(**env))


def celery_worker(
    redis_url: str, *, visibility_timeout: float = 3600, concurrency: int = 1, **env: str
) -> Process:
    """`celery -A dashboard worker`, prefork as in production; unacked tasks of a dead worker
    come back after `visibility_timeout` seconds (kombu's Redis transport)."""
    command = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "dashboard",
        "worker",
        "--pool",
        "prefork",
        "--concurrency",
        str(concurrency),
        "--without-mingle",
        "--without-gossip",
        "--loglevel",
        "INFO",
    ]
    return Process(
        command,
        django_env(REDIS_URL=redis_url, BROKER_VISIBILITY_TIMEOUT=str(visibility_timeout), **env),
    )


class Sandbox:
    """A private sandbox that can be stopped and started again on the same port (its state is
    lost and re-seeded, as after a restart of the real thing)."""

    def __init__(self, retry_delays: str = "0.2,0.4"):
        self.port = free_port()
        self.endpoint_url = f"http://127.0.0.1:{self.port}"
        self.region = "us-east-1"
        self.retry_delays = retry_delays
        self.process: Process | None = None

    def start(self, timeout: float = 30) -> "Sandbox":
        env = {key: value for key, value in os.environ.items() if key != "AWS_PROFILE"}
        env.update(
            AWS_ACCESS_KEY_ID="testing",
            AWS_SECRET_ACCESS_KEY="testing",
            AWS_DEFAULT_REGION=self.region,
            PYTHONPATH=str(PROJECT_ROOT),
        )
        command = [sys.executable, "-m", "sandbox", "--host", "127.0.0.1"]
        command += ["--port", str(self.port), "--retry-delays", self.retry_delays]
        self.process = Process(command, env).start()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.process.running:
                raise RuntimeError(f"sandbox exited:\n{self.process.output()}")
            if any(line.startswith("ready ") for line in self.process.output().splitlines()):
                return self
            time.sleep(0.1)
        raise RuntimeError(f"sandbox not ready after {timeout} s:\n{self.process.output()}")

    def stop(self) -> None:
        if self.process is not None:
            self.process.kill()

    def answers(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.endpoint_url}/moto-api/", timeout=1):
                return True
        except OSError:
            return False
