#!/usr/bin/env bash
# The multi-host suite: `tests/hosts/run.sh [PYTEST ARGS…]` (`make test-hosts` runs it). It
# needs root (network namespaces). The test process talks to the hosts' PostgreSQL and Redis,
# as an operator's machine would; whatever happens, no namespace or process of ours is left.
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${PY:-.venv/bin/python}

cleanup() {
    # The session fixture removes everything itself; this is for a run killed from outside.
    "$PY" -c 'from tests.hosts import network; network.remove_stale()' 2>/dev/null || true
}
trap cleanup EXIT INT TERM

export DATABASE_URL=postgres://postgres@10.77.0.10:5432/lambda_triage
export REDIS_URL=redis://10.77.0.10:6379/0
export AWS_ENDPOINT_URL=http://10.77.0.11:4566
export HOSTS_SCALE=${HOSTS_SCALE:-ci}
# Without a test path among the arguments, the whole suite.
paths=tests/hosts
for arg in "$@"; do [[ $arg == tests/* ]] && paths=""; done
"$PY" -m pytest $paths -m hosts -rs --durations=10 "$@"
