"""`make bench`: run every benchmark in bench/, print one line per figure, write them all to
bench/results/latest.json and regenerate the README's performance table from that file.

Each benchmark module has a `main()` returning {NAME: figure} (bench/_common.py says what a
figure holds); this runs each in its own process (so one's servers, memory and imports never
touch another's figures) and collects what it prints on its last line as JSON. The machine's
1-minute load average is sampled every few seconds while a module runs and written beside each
of its figures: the machine is shared, and a figure is read with its load.

A module that raises, exits non-zero or prints no figures is an error: named with its error in
the summary and in the results, and the run exits non-zero.

    .venv/bin/python -m bench                  every module; writes latest.json and the README
    .venv/bin/python -m bench ingest pages     some; writes bench/results/partial.json only
    .venv/bin/python -m bench --smoke          every module at a tiny scale; writes nothing
    .venv/bin/python -m bench --readme         the README's table again from latest.json
"""

import json
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
RESULTS = HERE / "results" / "latest.json"
PARTIAL = HERE / "results" / "partial.json"
README = REPO / "README.md"
MARKER = "BENCH-RESULTS-JSON: "
TABLE_START = "<!-- bench:start (written by `make bench` from bench/results/latest.json) -->"
TABLE_END = "<!-- bench:end -->"
LOAD_SAMPLE_SECONDS = 5
SMOKE_JOBS = 3
# What some modules report beside a figure, worded in the README's table.
NOTES = {
    "poller_cpu_ms_per_1000": "poller CPU {} ms per 1,000 records",
    "server_cpu_ms_per_1000": "PostgreSQL server CPU {} ms per 1,000 records",
    "overhead_ms": "{} ms above the raw call",
}

RUNNER = f"""
import json, runpy, sys
sys.path.insert(0, {str(REPO)!r})
module = runpy.run_path(sys.argv[1], run_name="__bench__")
figures = module["main"]()
print({MARKER!r} + json.dumps(figures, default=str))
"""


def benchmarks(selected: list[str]) -> list[Path]:
    found = sorted(p for p in HERE.glob("*.py") if not p.name.startswith("_"))
    if selected:
        unknown = set(selected) - {p.stem for p in found}
        if unknown:
            raise SystemExit(f"no such benchmark: {', '.join(sorted(unknown))}")
        found = [p for p in found if p.stem in selected]
    return found


class LoadSampler:
    """The 1-minute load average, sampled while a module runs."""

    def __init__(self) -> None:
        self.samples = [os.getloadavg()[0]]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(LOAD_SAMPLE_SECONDS):
            self.samples.append(os.getloadavg()[0])

    def __enter__(self) -> "LoadSampler":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.samples.append(os.getloadavg()[0])

    def summary(self) -> dict:
        return {
            "mean": round(sum(self.samples) / len(self.samples), 2),
            "max": round(max(self.samples), 2),
        }


def run(path: Path, smoke: bool) -> tuple[dict, dict]:
    """Run one module; (its figures, what happened: seconds, exit, load, error). A smoke run's
    modules run side by side, so each one's output is printed whole when it ends."""
    lines: list[str] = []

    def say(text: str, end: str = "\n") -> None:
        if smoke:
            lines.append(text + end)
        else:
            print(text, end=end, flush=True)

    say(f"== {path.stem}")
    started = time.monotonic()
    env = dict(os.environ, PYTHONPATH=str(REPO))
    if smoke:
        env["BENCH_SMOKE"] = "1"
    figures: dict = {}
    with tempfile.TemporaryFile(mode="w+") as errors, LoadSampler() as load:
        process = subprocess.Popen(
            [sys.executable, "-c", RUNNER, str(path)],
            cwd=REPO,
            env=env,
            stdout=subprocess.PIPE,
            stderr=errors,
            text=True,
        )
        assert process.stdout is not None
        for line in process.stdout:
            if line.startswith(MARKER):
                figures = json.loads(line[len(MARKER) :])
            else:
                say(line, end="")
        returncode = process.wait()
        errors.seek(0)
        stderr = errors.read()
    outcome = {
        "seconds": round(time.monotonic() - started, 1),
        "exit": returncode,
        "load_average": load.summary(),
    }
    if returncode != 0 or not figures:
        tail = [line for line in stderr.strip().splitlines() if line.strip()]
        outcome["error"] = (tail[-1] if tail else f"exit {returncode}, no figures printed")[:500]
        say(stderr[-4000:], end="")
    say(
        f"   ({outcome['seconds']:.0f} s, exit {returncode}, load average "
        f"{outcome['load_average']['mean']} mean, {outcome['load_average']['max']} max)"
    )
    if lines:
        print("".join(lines), end="", flush=True)
    for figure in figures.values():
        figure["load_average"] = outcome["load_average"]
        figure["module"] = path.stem
    return figures, outcome


def _number(value, unit: str = "") -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        text = f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"
    else:
        text = str(value)
    return f"{text} {unit}".strip() if unit else text


def table(results: dict) -> str:
    """The README's table, from one run's results."""
    run = results["run"]
    lines = [
        TABLE_START,
        "",
        f"Run {run['finished']} by `{run['command']}` on {run['cores']} cores, "
        f"{run['seconds'] / 60:.0f} minutes, 1-minute load average "
        f"{run['load_average']['mean']} mean, {run['load_average']['max']} max "
        "(the machine is shared; each row's load is its module's).",
        "",
        "| figure | value | baseline | ratio | target | load | |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name, f in sorted(results["figures"].items()):
        verdict = "" if f["target"] == "reported" else ("PASS" if f["pass"] else "**FAIL**")
        baseline = _number(f["baseline"], f.get("baseline_unit") or "")
        if f.get("baseline_is"):
            baseline = f"{baseline}: {f['baseline_is']}" if baseline else f["baseline_is"]
        target = f["target"].replace(">=", "≥ ").replace("<=", "≤ ")
        if f.get("judged_on") == "value":
            target = f"{target} {f['unit']}"
        what = f["what"] + "".join(
            f"; {note.format(f[key])}" for key, note in NOTES.items() if f.get(key) is not None
        )
        lines.append(
            f"| `{name}`: {what} | {_number(f['value'], f['unit'])} | {baseline} | "
            f"{_number(f['ratio'])} | {target} | {f['load_average']['mean']} | {verdict} |"
        )
    for module, outcome in sorted(run["modules"].items()):
        if "error" in outcome:
            lines.append(
                f"| `{module}` **raised**: {outcome['error']} | | | | | "
                f"{outcome['load_average']['mean']} | **ERROR** |"
            )
    lines += ["", TABLE_END]
    return "\n".join(lines)


def write_readme(results: dict) -> None:
    text = README.read_text()
    start, end = text.index(TABLE_START), text.index(TABLE_END) + len(TABLE_END)
    README.write_text(text[:start] + table(results) + text[end:])


def main(argv: list[str]) -> int:
    if argv == ["--readme"]:
        write_readme(json.loads(RESULTS.read_text()))
        print(f"README's table written from {RESULTS.relative_to(REPO)}")
        return 0
    smoke = "--smoke" in argv
    selected = [a for a in argv if a != "--smoke"]
    paths = benchmarks(selected)
    started, started_at = time.monotonic(), datetime.now(UTC)
    figures, modules = {}, {}
    with LoadSampler() as load:
        if smoke:
            # Tiny runs, nothing judged: side by side, so `make test` waits for the slowest
            # few rather than for all of them in a row.
            with ThreadPoolExecutor(SMOKE_JOBS) as pool:
                done = list(pool.map(lambda path: run(path, smoke), paths))
        else:
            done = [run(path, smoke) for path in paths]
    for path, (found, outcome) in zip(paths, done, strict=True):
        figures.update(found)
        modules[path.stem] = outcome
    results = {
        "run": {
            "started": started_at.isoformat(timespec="seconds"),
            "finished": datetime.now(UTC).isoformat(timespec="seconds"),
            "command": "make bench" if not selected else f"python -m bench {' '.join(selected)}",
            "seconds": round(time.monotonic() - started, 1),
            "cores": os.cpu_count(),
            "machine": platform.platform(),
            "load_average": load.summary(),
            "modules": modules,
        },
        "figures": figures,
    }
    errors = {name: o["error"] for name, o in modules.items() if "error" in o}
    failed = sorted(name for name, f in figures.items() if not f.get("pass"))
    if smoke:
        print(f"\nsmoke run: {len(paths)} modules, {len(figures)} figures (none judged)")
    else:
        target = PARTIAL if selected else RESULTS
        target.parent.mkdir(exist_ok=True)
        target.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
        if not selected:
            write_readme(results)
        print(f"\n{len(figures)} figures, written to {target.relative_to(REPO)}")
        for name, f in sorted(figures.items()):
            verdict = "reported" if f["target"] == "reported" else ("PASS" if f["pass"] else "FAIL")
            print(
                f"{name}: value={f['value']}{f['unit']} baseline={f['baseline']} "
                f"ratio={f['ratio']} target={f['target']} load={f['load_average']['mean']} "
                f"{verdict}"
            )
    for name, error in sorted(errors.items()):
        print(f"ERROR {name} raised: {error}")
    if not smoke and failed:
        print(f"{len(failed)} figure(s) missed: {', '.join(failed)}")
    return 1 if errors or (failed and not smoke) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
