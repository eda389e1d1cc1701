"""What every benchmark shares: the smoke scale, and the shape of one figure.

A figure is a dict, the same in every module and in bench/results/latest.json:

    {"value", "unit", "baseline", "baseline_unit", "baseline_is", "what", "ratio",
     "target", "judged_on", "pass"}

`baseline_is` says in one sentence what the baseline is (a measurement made in the same run, never
a target); a figure without a baseline has `baseline: None` and is judged on its value.

`BENCH_SMOKE=1` (set by `make bench-smoke`, which `make test` runs) makes every module run at a
tiny scale: seconds, every code path taken, no figure judged. A schema change that breaks a
benchmark then fails the test run, not the next `make bench`.
"""

import os
import time
from pathlib import Path

SMOKE = os.environ.get("BENCH_SMOKE") == "1"


def setup_django() -> None:
    """Django on the test settings (DATABASE_URL picks PostgreSQL, else SQLite)."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dashboard.settings_test")
    import django

    django.setup()


def create_throwaway_database(folder: str, name: str) -> None:
    """A new, empty, migrated database for one run: an SQLite file `name` in `folder`, or a test
    database on the PostgreSQL server DATABASE_URL names. The connection then points at it."""
    from django.conf import settings
    from django.db import connection

    database = settings.DATABASES["default"]
    if database["ENGINE"] == "django.db.backends.sqlite3":
        database.setdefault("TEST", {})["NAME"] = str(Path(folder) / name)
    connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def scaled(full, smoke):
    """`full` in a real run, `smoke` in a smoke run."""
    return smoke if SMOKE else full


def figure(
    *,
    what: str,
    value: float,
    unit: str,
    target: str,
    baseline: float | None = None,
    baseline_is: str = "",
    baseline_unit: str | None = None,
    judged_on: str = "ratio",
    digits: int = 3,
    **extra,
) -> dict:
    """One figure. `target` is an operator and a number ("<=1.3", ">=0.9") applied to the ratio
    (value / baseline) or, with judged_on="value", to the value itself; "reported" judges
    nothing."""
    ratio = value / baseline if baseline else None
    judged = ratio if judged_on == "ratio" else value
    if target == "reported":
        passed = True
    elif judged is None:
        passed = False
    elif target.startswith("<="):
        passed = judged <= float(target[2:])
    elif target.startswith(">="):
        passed = judged >= float(target[2:])
    else:
        raise ValueError(f"a target is <=N, >=N or 'reported', not {target!r}")
    return {
        "what": what,
        "value": round(value, digits),
        "unit": unit,
        "baseline": None if baseline is None else round(baseline, digits),
        "baseline_unit": unit if baseline_unit is None else baseline_unit,
        "baseline_is": baseline_is,
        "ratio": None if ratio is None else round(ratio, 3),
        "target": target,
        "judged_on": judged_on,
        "pass": passed,
        **extra,
    }


def show(name: str, f: dict) -> None:
    """One line per figure, as the modules print them."""
    verdict = "reported" if f["target"] == "reported" else ("PASS" if f["pass"] else "FAIL")
    print(
        f"{name}: value={f['value']}{f['unit']} baseline={f['baseline']} ratio={f['ratio']} "
        f"target={f['target']} {verdict}",
        flush=True,
    )


def process_cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process, all its threads, from /proc."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def tree_cpu_s(pid: int) -> float:
    """CPU seconds of a process and every living descendant (a PostgreSQL postmaster and its
    backends), from /proc. Descendants that already exited are counted in their parent's
    cutime/cstime once waited for, so those are added too."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(entry))
    total, stack = 0.0, [pid]
    while stack:
        current = stack.pop()
        try:
            with open(f"/proc/{current}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += sum(int(f) for f in fields[11:15]) / CLOCK_TICKS
        stack.extend(children.get(current, []))
    return total


class Stopwatch:
    """Wall seconds since it was made."""

    def __init__(self) -> None:
        self.started = time.monotonic()

    @property
    def seconds(self) -> float:
        return time.monotonic() - self.started
