"""Fixtures shared by the whole suite.

Nothing here can reach real AWS: fake credentials, no profile, and every client is pointed at
moto or the sandbox on 127.0.0.1. Redis is a real redis-server on a free port for the session.
"""

import importlib
import os
import shutil
import socket
import subprocess
import time

# Playwright's sync API runs an event loop in the test thread; Django's async guard must allow
# ORM calls from it.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
for _name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL"):
    os.environ.pop(_name, None)
os.environ["AWS_ACCESS_KEY_ID"] = "testing"
os.environ["AWS_SECRET_ACCESS_KEY"] = "testing"
os.environ["AWS_DEFAULT_REGION"] = "us-east-1"
os.environ["AWS_REGION"] = "us-east-1"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


import pytest  # noqa: E402
from django.contrib.auth.models import Group  # noqa: E402


def pytest_collection_modifyitems(config, items):
    """Tests marked `hosts` run only when asked for. Tests marked `postgres` need PostgreSQL's
    behaviour (row locks, deadlock detection, several processes writing at once): on SQLite
    they are skipped, saying why."""
    from django.conf import settings

    # The multi-host suite (tests/hosts/) builds its own machines as root: `make test-hosts`
    # runs it (`-m hosts`); any other run leaves it out.
    if "hosts" not in (config.getoption("markexpr") or ""):
        hosts = [item for item in items if "hosts" in item.keywords]
        if hosts:
            config.hook.pytest_deselected(items=hosts)
            items[:] = [item for item in items if "hosts" not in item.keywords]
    if settings.DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
        return
    skip = pytest.mark.skip(
        reason="needs PostgreSQL (`make test` runs the suite on it too: tests/postgres/run.sh)"
    )
    for item in items:
        if "postgres" in item.keywords:
            item.add_marker(skip)


CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


class RedisServer:
    def __init__(self, port: int):
        self.port = port
        self.url = f"redis://127.0.0.1:{port}/0"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            pytest.fail("redis-server is not installed: run `make test`, which installs it")
        self.process = subprocess.Popen(
            [
                binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                if self.process.poll() is not None:
                    pytest.fail(f"redis-server exited at start (port {self.port} taken?)")
                time.sleep(0.05)
        pytest.fail("redis-server did not start within 10 s")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)
        self.process = None


@pytest.fixture(scope="session")
def redis_server():
    """A private redis-server for the session; Django and Celery are pointed at it."""
    from django.conf import settings

    from dashboard.celery import app

    server = RedisServer(free_port())
    server.start()
    settings.CELERY_BROKER_URL = server.url
    app.conf.broker_url = server.url
    # A page that sends a task (the Monitor panel, the Workers page) in an earlier test without
    # a broker made Celery keep its connection pools for the default URL: start them afresh.
    if app._pool is not None:
        app._pool.force_close_all()
        app._pool = None
    app.amqp._producer_pool = None
    yield server
    server.stop()


@pytest.fixture(scope="session")
def sandbox():
    """The local AWS (moto + our Lambda runner) in a subprocess, once for the session."""
    from sandbox.testing import run_sandbox

    with run_sandbox(retry_delays="0.2,0.4", seed=True) as running:
        yield running


@pytest.fixture
def sandbox_env(db, sandbox):
    """The default environment, pointed at the sandbox."""
    from invocations import aws
    from invocations.models import Environment

    env = Environment.objects.default()
    env.endpoint_url = sandbox.endpoint_url
    env.region = sandbox.region
    env.save()
    aws.reset_clients()
    yield env
    aws.reset_clients()


def ensure_roles() -> None:
    """The role groups come from a data migration, and a transactional test's flush empties
    every table after it: recreate them (the migration's own code) when they are gone."""
    if Group.objects.filter(name="Admin").exists():
        return
    from django.apps import apps

    migration = importlib.import_module("invocations.migrations.0002_roles_and_audit_guard")
    migration.create_roles(apps, None)


def _user(django_user_model, username: str, roles: list[str], **extra):
    ensure_roles()
    user = django_user_model.objects.create_user(username=username, password="pw", **extra)
    user.groups.set(Group.objects.filter(name__in=roles))
    return user


@pytest.fixture
def alice(db, django_user_model):
    """Alice operates and triages: she can invoke and replay."""
    return _user(django_user_model, "alice", ["Viewer", "Operator", "Triager"])


@pytest.fixture
def bob(db, django_user_model):
    """Bob only looks."""
    return _user(django_user_model, "bob", ["Viewer"])


@pytest.fixture
def charlie(db, django_user_model):
    """Charlie has an account and no role at all."""
    return _user(django_user_model, "charlie", [])


@pytest.fixture
def admin_user(db, django_user_model):
    return _user(
        django_user_model,
        "ada",
        ["Viewer", "Operator", "Triager", "Admin"],
        is_staff=True,
        is_superuser=True,
    )


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    if not os.path.exists(CHROMIUM):
        pytest.fail("Debian's chromium is not installed: run `make test`, which installs it")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    opened = context.new_page()
    opened.set_default_timeout(15_000)
    yield opened
    context.close()


@pytest.fixture
def celery_worker(redis_server, transactional_db):
    """A real Celery worker thread consuming from the real Redis broker."""
    import celery.contrib.testing.tasks  # noqa: F401  (registers the ping task start_worker needs)
    from celery.contrib.testing.worker import start_worker

    from dashboard.celery import app

    with start_worker(
        app, pool="threads", concurrency=4, perform_ping_check=False, shutdown_timeout=10
    ):
        yield app
    _end_worker_sessions()


def _end_worker_sessions() -> None:
    """The worker's threads keep their database connections between tasks, as a real worker
    does; a real worker's exit closes them. Here the threads end without closing them, and
    PostgreSQL would refuse to drop the test database at the end of the run while they last."""
    from django.db import connection

    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid() AND state = 'idle'"
        )


@pytest.fixture(autouse=True)
def _forget_quiet_queues():
    """The poller remembers (per process) which queues a long poll found empty; queue ids are
    reused from test to test, so each test starts without that memory."""
    from invocations.ingest import polling

    polling._quiet.clear()
    yield
    polling._quiet.clear()
