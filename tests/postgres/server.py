"""A private, throwaway PostgreSQL server on a free port, for the test suite and the benchmarks.

    with private_postgres() as url:   # postgres://postgres@127.0.0.1:PORT/lambda_triage
        ...

or from a shell, `python3 tests/postgres/server.py COMMAND…` runs COMMAND with DATABASE_URL set
(tests/postgres/run.sh does that). Standard library only, so any Python 3 can start it.

The server lives in a temporary folder (no fsync: its data is thrown away) and is stopped and
removed on exit. initdb and postgres refuse to run as root: as root, they run as the `postgres`
user in a folder it owns. PostgreSQL is installed with apt when missing and we are root.
"""

import contextlib
import glob
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator

DATABASE = "lambda_triage"


def _binaries() -> str:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=_version)
    if found:
        return found[-1]
    if os.geteuid() != 0:
        sys.exit("PostgreSQL is missing. Install it with: sudo apt-get install -y postgresql")
    print("Installing PostgreSQL with apt", flush=True)
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run(
        ["apt-get", "install", "-y", "-qq", "postgresql"],
        check=True,
        env=env,
        stdout=subprocess.DEVNULL,
    )
    return sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=_version)[-1]


def _version(path: str) -> tuple[int, ...]:
    number = path.split("/")[-2]
    return tuple(int(part) for part in number.split(".") if part.isdigit())


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def private_postgres(create_database: bool = False, max_connections: int = 200) -> Iterator[str]:
    """Start a server; yield the DATABASE_URL of a database on it, created if `create_database`
    (Django's test runner makes its own `test_<name>` beside it); stop the server and delete its
    folder on exit."""
    binaries = _binaries()
    folder = tempfile.mkdtemp(prefix="pg-")
    as_postgres: list[str] = []
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres")
        as_postgres = ["runuser", "-u", "postgres", "--"]
    data = os.path.join(folder, "data")
    port = _free_port()
    try:
        subprocess.run(
            [*as_postgres, f"{binaries}/initdb", "-D", data, "-U", "postgres"]
            + ["--auth=trust", "-E", "UTF8"],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        options = (
            f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=off "
            f"-c synchronous_commit=off -c full_page_writes=off "
            f"-c max_connections={max_connections}"
        )
        subprocess.run(
            [*as_postgres, f"{binaries}/pg_ctl", "-D", data, "-l", f"{folder}/log", "-w"]
            + ["-o", options, "start"],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        if create_database:
            subprocess.run(
                [f"{binaries}/createdb", "-h", "127.0.0.1", "-p", str(port), "-U", "postgres"]
                + [DATABASE],
                check=True,
            )
        yield f"postgres://postgres@127.0.0.1:{port}/{DATABASE}"
    finally:
        subprocess.run(
            [*as_postgres, f"{binaries}/pg_ctl", "-D", data, "-m", "immediate", "stop"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        shutil.rmtree(folder, ignore_errors=True)


def main(command: list[str]) -> int:
    if not command:
        sys.exit("usage: python3 tests/postgres/server.py COMMAND [ARGS…]")
    # Stopped from outside (a CI timeout): still stop the server and delete its folder.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    with private_postgres() as url:
        print(f"PostgreSQL on {url.split('@')[1].split('/')[0]}", flush=True)
        return subprocess.call(command, env=dict(os.environ, DATABASE_URL=url))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
