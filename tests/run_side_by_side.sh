#!/usr/bin/env bash
# `make test`'s two whole-suite runs (SQLite, and PostgreSQL on a private server) and the smoke
# run of every benchmark, side by side. They share nothing: each starts its own Redis, sandbox,
# database and browser on free ports. Most of a suite's time is spent waiting on processes,
# sockets and browsers rather than on the CPU, so together they take far less than one after
# the other (CI stays well under its budget). The SQLite suite prints as it goes; the other two
# print whole once they end. Exits non-zero if any of them failed.
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
PYTEST=${PYTEST:-.venv/bin/pytest}
logs=$(mktemp -d)
pids=()
stop() {
    for pid in "${pids[@]}"; do kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null; done
    rm -rf "$logs"
}
trap stop EXIT
trap 'exit 130' INT TERM

setsid bash tests/postgres/run.sh "$PYTEST" >"$logs/postgres.log" 2>&1 &
postgres=$!
pids+=("$postgres")
setsid "$PY" -m bench --smoke >"$logs/bench.log" 2>&1 &
bench=$!
pids+=("$bench")

echo "== the whole suite on SQLite (PostgreSQL and the benchmarks' smoke run go on beside it)"
"$PYTEST"
sqlite=$?

wait "$postgres"
postgres_status=$?
echo "== the whole suite on PostgreSQL: exit $postgres_status"
cat "$logs/postgres.log"
wait "$bench"
bench_status=$?
echo "== every benchmark at a tiny scale: exit $bench_status"
cat "$logs/bench.log"

echo "== SQLite: exit $sqlite; PostgreSQL: exit $postgres_status; benchmarks: exit $bench_status"
[ "$sqlite" -eq 0 ] && [ "$postgres_status" -eq 0 ] && [ "$bench_status" -eq 0 ]
