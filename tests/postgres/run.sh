#!/usr/bin/env bash
# Run a command against a private, throwaway PostgreSQL server: `tests/postgres/run.sh pytest …`
# (tests/postgres/server.py starts it; the benchmarks use the same module). The code must work on
# SQLite and PostgreSQL; `make test` runs the whole suite on both.
set -euo pipefail
exec python3 "$(dirname "$0")/server.py" "$@"
