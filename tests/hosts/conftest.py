"""The multi-host suite: one installation on five network namespaces for the session
(tests/hosts/cluster.py), scenarios that break hosts and links, and their figures printed at
the end of the run.

Run it with `make test-hosts` (tests/hosts/run.sh): it needs root, and the test process must
talk to the installation's own PostgreSQL and Redis, which the runner's environment names. A
plain `pytest` leaves these tests out (tests/conftest.py)."""

import os
import time

import pytest

from tests.hosts import cluster as hosts
from tests.hosts import network

# The issue-sized run (`make test-hosts SCALE=full`) and the one CI runs in minutes on two cores;
# the same assertions either way.
SCALES = {
    "ci": {"invocations": 60, "cut_seconds": 15, "flood": 2_000},
    "full": {"invocations": 300, "cut_seconds": 60, "flood": 20_000},
}
SCALE_NAME = os.environ.get("HOSTS_SCALE", "ci")

_figures: list[tuple[str, dict]] = []


@pytest.fixture(scope="session")
def scale() -> dict:
    if SCALE_NAME not in SCALES:
        pytest.fail(f"HOSTS_SCALE={SCALE_NAME!r}: use one of {', '.join(SCALES)}")
    return SCALES[SCALE_NAME]


@pytest.fixture
def figures(request):
    """A dict the test fills with its figures; they are printed in the run's summary."""
    found: dict = {}
    yield found
    _figures.append((request.node.name, found))


def pytest_terminal_summary(terminalreporter):
    if not _figures:
        return
    terminalreporter.section(f"multi-host figures (scale {SCALE_NAME})")
    for name, found in _figures:
        terminalreporter.write_line(name)
        for key, value in found.items():
            terminalreporter.write_line(f"    {key}: {value}")


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


@pytest.fixture(scope="session")
def cluster(request, django_db_blocker):
    reason = network.refused()
    if reason:
        message = f"THE MULTI-HOST SUITE DID NOT RUN: {reason}"
        print(f"\n{'!' * len(message)}\n{message}\n{'!' * len(message)}", flush=True)
        pytest.skip(message)
    from django.conf import settings

    if settings.DATABASES["default"].get("HOST") != hosts.addresses()["data"]:
        pytest.fail(
            "the test process must use the hosts' database: run `make test-hosts` "
            "(tests/hosts/run.sh), which sets DATABASE_URL and REDIS_URL"
        )
    installation = hosts.Cluster()

    def remove_files() -> None:
        if request.session.testsfailed or os.environ.get("HOSTS_KEEP_LOGS"):
            print(f"\nthe hosts' logs are kept in {installation.folder}")
        else:
            installation.remove_files()

    request.addfinalizer(remove_files)
    request.addfinalizer(installation.stop)
    started = time.monotonic()
    try:
        installation.start()
    except Exception:
        print(installation.logs())
        raise
    print(f"\nfive hosts up in {time.monotonic() - started:.1f} s ({installation.folder})")
    with django_db_blocker.unblock():
        yield installation


@pytest.fixture(autouse=True)
def _logs_on_failure(request):
    from django.db import connection

    connection.close()  # a scenario may have restarted PostgreSQL under it
    yield
    report = getattr(request.node, "report_call", None)
    installation = (
        request.node.funcargs.get("cluster") if hasattr(request.node, "funcargs") else None
    )
    if report is not None and report.failed and installation is not None:
        print(f"\n==== the hosts' logs\n{installation.logs()}")
