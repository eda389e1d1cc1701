"""An invoke storm from the web host while something breaks, and what it left behind: every
invocation in one final state, and each function run once at most, counted by the sandbox."""

import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime

from django.contrib.auth.hashers import PBKDF2PasswordHasher
from django.contrib.auth.models import Group, User

from invocations import aws
from invocations.invoking import inventory
from invocations.models import Environment, Invocation
from tests.hosts import cluster as hosts
from tests.hosts import scenario

PASSWORD = "olive-operates-hosts"
# Long enough for invocations to be in flight (and tasks to wait in Redis) when a fault hits.
RUN_SECONDS = 2.0


def environment() -> Environment:
    env = Environment.objects.default()
    env.endpoint_url, env.region = hosts.sandbox_url(), "us-east-1"
    env.save()
    aws.reset_clients()
    return env


def operator() -> str:
    """Olive, who may invoke; returns her user name."""
    user, created = User.objects.get_or_create(username="olive")
    if created:
        # The hosts check passwords with production's hashers, not the test settings' MD5.
        user.password = PBKDF2PasswordHasher().encode(PASSWORD, "hostssalt", iterations=1000)
        user.save()
        user.groups.set(Group.objects.filter(name__in=["Viewer", "Operator"]))
    return user.username


def run(
    cluster: hosts.Cluster,
    count: int,
    break_: Callable[[], None],
    mend: Callable[[], None],
    outage_seconds: float,
    figures: dict,
    ready: Callable[[], bool] = lambda: True,
) -> None:
    """Send `count` invocations (every other one asynchronous) from the web host: a third, or
    more until `ready()` (at most half), before `break_()`, the rest spread over the
    `outage_seconds` it lasts, then `mend()`. Fills `figures` and asserts that none is lost,
    none left unfinished, none run twice."""
    env = environment()
    marks = cluster.log_marks("worker")
    function_name, runs_url = scenario.counting_function()
    inventory.sync(env)
    browser = scenario.Browser(operator(), PASSWORD)
    since = datetime.now(UTC)
    tag = f"{function_name}-"

    def send(number: int) -> None:
        kind = "Event" if number % 2 else "RequestResponse"
        payload = {"marker": f"{tag}{number}", "runs": runs_url, "seconds": RUN_SECONDS}
        assert browser.invoke(function_name, kind, payload) == 200, number

    rows = Invocation.objects.filter(function_name=function_name)
    before = 0
    while before < count // 3 or (before < count // 2 and not ready()):
        send(before)
        before += 1
    hosts.wait_until(
        lambda: rows.filter(status=Invocation.Status.RUNNING).exists(),
        timeout=60,
        message="no invocation started before the fault",
    )
    break_()
    broken_at = time.monotonic()
    rest = range(before, count)
    for position, number in enumerate(rest, start=1):
        send(number)
        # Paced over the outage: what people would send while it lasts.
        time.sleep(max(0.0, broken_at + outage_seconds * position / len(rest) - time.monotonic()))
    time.sleep(max(0.0, broken_at + outage_seconds - time.monotonic()))
    mend()
    mended_at = time.monotonic()

    unfinished = [Invocation.Status.QUEUED, Invocation.Status.RUNNING]
    unfinished.append(Invocation.Status.THROTTLED_RETRYING)
    hosts.wait_until(
        lambda: rows.count() == count and not rows.filter(status__in=unfinished).exists(),
        timeout=outage_seconds + 240,
        interval=0.5,
        message=f"invocations still unfinished: {Counter(rows.values_list('status', flat=True))}",
    )
    recovered = time.monotonic() - mended_at
    done = list(rows.values("payload", "status", "request_id", "invocation_type", "error_code"))
    markers = {_marker(row["payload"]): row for row in done}
    ran_ok = {Invocation.Status.SUCCEEDED, Invocation.Status.ACCEPTED}
    expected = {marker for marker, row in markers.items() if row["status"] in ran_ok}
    runs: dict[str, list[str]] = {}
    hosts.wait_until(
        lambda: expected <= set(scenario.read_runs(runs_url, runs)),
        timeout=120,
        interval=0.5,
        message="a run the dashboard saw succeed was never recorded by the function",
    )
    recorded = sum(map(len, runs.values()))
    metric = hosts.wait_until(
        lambda: (n := scenario.invocations_counted(function_name, since)) >= recorded and n,
        timeout=60,
        message="the sandbox's Invocations metric never caught up with the runs recorded",
    )
    scenario.read_runs(runs_url, runs)  # anything a second run sent meanwhile

    ran_twice = [marker for marker, request_ids in runs.items() if len(request_ids) > 1]
    unknown = set(runs) - set(markers)
    mismatched = [
        marker
        for marker, row in markers.items()
        if row["status"] == Invocation.Status.SUCCEEDED and runs[marker] != [row["request_id"]]
    ]
    statuses = Counter(row["status"] for row in done)
    figures.update(
        {
            "invocations sent from the web host": count,
            "final states": dict(statuses),
            "failed, and why": dict(
                Counter(r["error_code"] for r in done if r["status"] == "failed")
            ),
            "left queued or running": sum(statuses[s] for s in unfinished),
            "lost (no final state, or succeeded without a run)": count
            - len(done)
            + len(expected - set(runs)),
            "ran twice for one invocation": len(ran_twice),
            "runs the sandbox recorded (one message per run)": sum(map(len, runs.values())),
            "runs the sandbox's Invocations metric counted": metric,
            "seconds from the repair until every invocation was final": round(recovered, 1),
            # A worker's BRPOP answered by Redis but never received (a cut, a crash), found by
            # beat (invocations/ops/lost_tasks.py).
            "tasks the broker lost that beat sent again": cluster.logged_since(
                marks, "worker"
            ).count("its task was lost by the broker"),
        }
    )
    assert len(done) == count
    assert figures["left queued or running"] == 0
    assert figures["lost (no final state, or succeeded without a run)"] == 0
    assert ran_twice == [], ran_twice
    assert not unknown, unknown
    assert mismatched == [], mismatched
    assert metric == figures["runs the sandbox recorded (one message per run)"]


def _marker(payload: str) -> str:
    import json

    return json.loads(payload)["marker"]
