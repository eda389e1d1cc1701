"""An account fifty times the demo: how long the inventory sync and queue discovery take, and
how many AWS requests they make, under AWS's request quotas.

Run: `.venv/bin/python bench/account_scale.py` (a few minutes; BENCH_ACCOUNT_SCALE=10 for a
quick try).

Starts the sandbox with `--scale 50` (513 functions, 1,000 published versions and as many
aliases beside the demo's, 202 event source mappings, about 310 queues and their log groups),
which refuses Lambda control-plane calls past 15 a second as Lambda does; in a throwaway SQLite
database, runs one inventory sync and one discovery as beat and the Discover button run them,
and prints, one line each:

    account_scale_sync_seconds: value=… baseline=<its requests at 15 a second> target=<=1.5
        (the ratio) PASS|FAIL
    account_scale_sync_aws_requests: value=… baseline=<functions × 4 + list pages>
    account_scale_discovery_seconds: value=…
    account_scale_discovery_aws_requests: value=…
    account_scale_functions / _mappings / _watched_queues: what was found

`main()` returns {name: {value, baseline, ratio, target, pass}}. The floor of the sync's time is
its requests over the quota: a Lambda account's 15 control-plane requests a second.
"""

import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SCALE = int(os.environ.get("BENCH_ACCOUNT_SCALE", "50"))
QUOTA_PER_SECOND = 15.0
# The sync's time over the quota's floor (its requests at 15 a second): at most this. A fixed
# time (a minute) cannot hold: 500 functions need over 2,000 requests, 137 s at the quota.
SYNC_TARGET_RATIO = 1.5


def _setup_django(folder: str) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dashboard.settings_test")
    import django

    django.setup()
    from django.conf import settings
    from django.db import connection

    database = settings.DATABASES["default"]
    if database["ENGINE"] == "django.db.backends.sqlite3":
        database.setdefault("TEST", {})["NAME"] = str(Path(folder) / "account.sqlite3")
    connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)


def _figure(value, baseline=None, target=None, passed=True) -> dict:
    ratio = value / baseline if baseline else None
    return {"value": value, "baseline": baseline, "ratio": ratio, "target": target, "pass": passed}


def main() -> dict:
    sys.path.insert(0, str(REPO))
    from sandbox.testing import run_sandbox

    os.environ.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing")
    os.environ.pop("AWS_PROFILE", None)
    figures: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as folder, run_sandbox(seed=True, scale=SCALE) as sandbox:
        _setup_django(folder)
        from invocations import aws
        from invocations.access.actor import SYSTEM
        from invocations.ingest import discovery
        from invocations.invoking import inventory
        from invocations.models import Environment, Function, InventorySync, WatchedQueue

        env = Environment.objects.default()
        env.endpoint_url, env.region = sandbox.endpoint_url, sandbox.region
        env.save()
        aws.reset_clients()

        started = time.monotonic()
        errors = inventory.sync(env)
        sync_seconds = time.monotonic() - started
        sync = InventorySync.objects.get(environment=env)
        functions = Function.objects.filter(environment=env, present=True)
        mappings = sum(len(f.event_source_mappings) for f in functions)

        started = time.monotonic()
        with aws.counting() as discovery_requests:
            found = discovery.discover(env, actor=SYSTEM)
        discovery_seconds = time.monotonic() - started

        floor = (functions.count() * 4 + 1) / QUOTA_PER_SECOND  # seconds, at the quota
        figures = {
            "account_scale_sync_seconds": _figure(
                sync_seconds, floor, SYNC_TARGET_RATIO, sync_seconds <= floor * SYNC_TARGET_RATIO
            ),
            "account_scale_sync_aws_requests": _figure(
                sync.aws_requests, functions.count() * 4 + 1
            ),
            "account_scale_sync_errors": _figure(len(errors), 0, 0, not errors),
            "account_scale_discovery_seconds": _figure(discovery_seconds),
            "account_scale_discovery_aws_requests": _figure(sum(discovery_requests.values())),
            "account_scale_discovery_errors": _figure(len(found.errors), 0, 0, not found.errors),
            "account_scale_functions": _figure(functions.count()),
            "account_scale_mappings": _figure(mappings),
            "account_scale_watched_queues": _figure(WatchedQueue.objects.count()),
        }
    for name, figure in figures.items():
        verdict = " PASS" if figure["pass"] else " FAIL"
        extra = f" baseline={figure['baseline']:.0f}" if figure["baseline"] else ""
        if figure["ratio"] is not None:
            extra += f" ratio={figure['ratio']:.2f}"
        target = f" target=<={figure['target']}" if figure["target"] is not None else ""
        print(f"{name}: value={figure['value']:.1f}{extra}{target}{verdict}", flush=True)
    return figures


if __name__ == "__main__":
    main()
