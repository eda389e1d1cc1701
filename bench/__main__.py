"""`make bench`: run every benchmark in bench/, print one line per figure and write them all to
bench/results/latest.json.

Each benchmark module has a `main()` returning {NAME: {"value", "baseline", "ratio", "target",
"pass"}}; this runs each in its own process (so one's servers, memory and imports never touch
another's figures) and collects what they print on their last line as JSON.
"""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
RESULTS = HERE / "results" / "latest.json"
MARKER = "BENCH-RESULTS-JSON: "

RUNNER = f"""
import json, runpy, sys
sys.path.insert(0, {str(REPO)!r})
module = runpy.run_path(sys.argv[1], run_name="bench")
figures = module["main"]()
print({MARKER!r} + json.dumps(figures, default=str))
"""


def benchmarks(selected: list[str]) -> list[Path]:
    found = sorted(p for p in HERE.glob("*.py") if not p.name.startswith("_"))
    if selected:
        found = [p for p in found if p.stem in selected]
    return found


def run(path: Path) -> dict:
    print(f"== {path.stem}", flush=True)
    started = time.monotonic()
    env = dict(os.environ, PYTHONPATH=str(REPO))
    process = subprocess.run(
        [sys.executable, "-c", RUNNER, str(path)],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    figures = {}
    for line in process.stdout.splitlines():
        if line.startswith(MARKER):
            figures = json.loads(line[len(MARKER) :])
        else:
            print(line, flush=True)
    print(f"   ({time.monotonic() - started:.0f} s, exit {process.returncode})", flush=True)
    return figures


def main(argv: list[str]) -> int:
    results = {}
    for path in benchmarks(argv):
        results.update(run(path))
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
    print(f"\n{len(results)} figures, written to {RESULTS.relative_to(REPO)}")
    for name, figure in sorted(results.items()):
        verdict = "PASS" if figure.get("pass") else "FAIL"
        print(
            f"{name}: value={figure.get('value')} baseline={figure.get('baseline')} "
            f"ratio={figure.get('ratio')} target={figure.get('target')} {verdict}"
        )
    return 0 if all(f.get("pass") for f in results.values()) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
