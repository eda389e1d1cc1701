"""The installation on five hosts, each a network namespace (tests/hosts/network.py):

| host | address | runs |
| --- | --- | --- |
| data | 10.77.0.10 | PostgreSQL (5432), Redis with append-only on (6379) |
| aws | 10.77.0.11 | the sandbox (4566) |
| web | 10.77.0.12 | gunicorn (8000), DJANGO_DEBUG=false |
| worker-1, worker-2 | 10.77.0.21, .22 | a Celery worker, a poller (`poll_queues`) and a beat each |

Every process runs through `ip netns exec`, in its own session, with its output in the run's
folder (printed when a test fails). The Django processes use the production settings
(dashboard/settings.py) through tests/hosts/host_settings.py, which changes only what a test
cannot wait for (the broker's visibility timeout, the static files' folder).
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
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

from tests import waiting
from tests.hosts.network import Network, kill_namespace

PROJECT_ROOT = Path(__file__).resolve().parents[2]
HOSTS = {"data": 10, "aws": 11, "web": 12, "worker-1": 21, "worker-2": 22}
WORKERS = ("worker-1", "worker-2")
PG_PORT, REDIS_PORT, SANDBOX_PORT, WEB_PORT = 5432, 6379, 4566, 8000
DATABASE = "lambda_triage"
METRICS_TOKEN = "hosts-metrics-token"
# Short enough for a test: the beat lock lasts one poll interval, a killed poller's lease a few.
POLL_INTERVAL_SECONDS = 4
POLL_CLAIM_SECONDS = 20
# A worker that lost its link comes back with its unacknowledged tasks after this (production:
# an hour, longer than the longest invoke).
VISIBILITY_TIMEOUT = 20


def addresses() -> dict[str, str]:
    return Network(HOSTS).addresses


def database_url() -> str:
    return f"postgres://postgres@{addresses()['data']}:{PG_PORT}/{DATABASE}"


def redis_url() -> str:
    return f"redis://{addresses()['data']}:{REDIS_PORT}/0"


def sandbox_url() -> str:
    return f"http://{addresses()['aws']}:{SANDBOX_PORT}"


def web_url() -> str:
    return f"http://{addresses()['web']}:{WEB_PORT}"


def wait_until(condition: Callable, timeout: float, interval: float = 0.2, message: str = ""):
    """The suite's wait (tests/waiting.py), polling the hosts less often: each ask crosses the
    bridge to another host."""
    return waiting.wait_until(condition, timeout=timeout, interval=interval, message=message)


def answers(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


class HostProcess:
    """One program on one host, its output in `log_path`."""

    def __init__(self, cluster: "Cluster", host: str, name: str, command: list[str], env: dict):
        self.cluster, self.host, self.name = cluster, host, name
        self.command, self.env = command, env
        self.log_path = cluster.folder / f"{host}-{name}.log"
        self.process: subprocess.Popen | None = None

    def start(self) -> "HostProcess":
        with open(self.log_path, "ab") as log:
            log.write(f"==== start {time.strftime('%H:%M:%S')}\n".encode())
            self.process = subprocess.Popen(
                [*self.cluster.network.run_in(self.host), *self.command],
                cwd=PROJECT_ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return self

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=10)

    def stop(self) -> None:
        if not self.running:
            return
        assert self.process is not None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.kill()

    def output(self, tail: int = 4000) -> str:
        return self.log_path.read_text(errors="replace")[-tail:]


def _pg_binaries() -> str:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(p.split("/")[-2]))
    if not found:
        raise RuntimeError("PostgreSQL is not installed: `make test` installs it")
    return found[-1]


class Cluster:
    def __init__(self, folder: Path | None = None):
        self.network = Network(HOSTS)
        self.folder = folder or Path(tempfile.mkdtemp(prefix="lthosts-"))
        self.addresses = self.network.addresses
        self.processes: list[HostProcess] = []
        self.redis: HostProcess | None = None
        self.sandbox: HostProcess | None = None
        self.web: HostProcess | None = None
        self.roles: dict[str, dict[str, HostProcess]] = {host: {} for host in WORKERS}
        self.pg_data = self.folder / "pg" / "data"

    # The whole installation -------------------------------------------------------------

    def start(self) -> None:
        self.network.create()
        self.start_postgres(initialise=True)
        self.start_redis()
        self.start_sandbox()
        self.django("web", "migrate", "--no-input", "-v", "0")
        self.django("web", "collectstatic", "--no-input", "-v", "0")
        self.start_web()
        for host in WORKERS:
            self.start_worker_host(host)
        wait_until(
            lambda: self.health_check("workers") and self.health_check("beat"),
            timeout=90,
            message=f"no worker or no beat on /health/:\n{self.logs()}",
        )

    def health_check(self, name: str) -> bool:
        found = self.health()
        return bool(found and found["checks"].get(name, {}).get("ok"))

    def stop(self) -> None:
        """Stop everything, whatever state it is in; never raises."""
        for process in reversed(self.processes):
            with contextlib.suppress(Exception):
                process.kill()
        for host in HOSTS:
            with contextlib.suppress(Exception):
                kill_namespace(self.network.namespace(host))
        with contextlib.suppress(Exception):
            self.network.destroy()

    def remove_files(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)

    def django_env(self, host: str, **extra: str) -> dict[str, str]:
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("AWS_", "DJANGO_", "DATABASE_", "REDIS_", "POLL_"))
        }
        env.update(
            DJANGO_SETTINGS_MODULE="tests.hosts.host_settings",
            DJANGO_SECRET_KEY="hosts-test-secret-key-not-for-production",
            DJANGO_DEBUG="false",
            DJANGO_SECURE_HTTPS="false",
            DJANGO_ALLOWED_HOSTS=self.addresses["web"],
            DATABASE_URL=database_url(),
            REDIS_URL=redis_url(),
            AWS_ENDPOINT_URL=sandbox_url(),
            AWS_REGION="us-east-1",
            AWS_ACCESS_KEY_ID="testing",
            AWS_SECRET_ACCESS_KEY="testing",
            AWS_ENVIRONMENT_NAME="sandbox",
            POLL_INTERVAL_SECONDS=str(POLL_INTERVAL_SECONDS),
            POLL_CLAIM_SECONDS=str(POLL_CLAIM_SECONDS),
            METRICS_TOKEN=METRICS_TOKEN,
            BROKER_VISIBILITY_TIMEOUT=str(VISIBILITY_TIMEOUT),
            LOST_TASK_SECONDS="20",
            STATIC_ROOT=str(self.folder / "static"),
            HOST_NAME=host,
            PYTHONPATH=str(PROJECT_ROOT),
            PYTHONUNBUFFERED="1",
            LOG_LEVEL="INFO",
        )
        env.update(extra)
        return env

    def django(self, host: str, *args: str, timeout: float = 120) -> str:
        """`manage.py ARGS` on `host`, to its end; its output."""
        done = subprocess.run(
            [*self.network.run_in(host), sys.executable, "manage.py", *args],
            cwd=PROJECT_ROOT,
            env=self.django_env(host),
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if done.returncode != 0:
            raise RuntimeError(f"manage.py {' '.join(args)} on {host}:\n{done.stderr[-3000:]}")
        return done.stdout

    def _process(self, host: str, name: str, command: list[str], env: dict) -> HostProcess:
        process = HostProcess(self, host, name, command, env)
        self.processes.append(process)
        return process.start()

    # data: PostgreSQL and Redis ---------------------------------------------------------

    def _pg_ctl(self, *args: str) -> None:
        as_postgres = ["runuser", "-u", "postgres", "--"]
        subprocess.run(
            [*self.network.run_in("data"), *as_postgres, f"{_pg_binaries()}/pg_ctl"]
            + ["-D", str(self.pg_data), *args],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=60,
        )

    def start_postgres(self, initialise: bool = False) -> None:
        if initialise:
            (self.folder / "pg").mkdir()
            shutil.chown(self.folder / "pg", "postgres")
            os.chmod(self.folder, 0o755)
            subprocess.run(
                ["runuser", "-u", "postgres", "--", f"{_pg_binaries()}/initdb"]
                + ["-D", str(self.pg_data), "-U", "postgres", "--auth=trust", "-E", "UTF8"],
                check=True,
                stdout=subprocess.DEVNULL,
            )
            with open(self.pg_data / "pg_hba.conf", "a") as hba:
                hba.write(f"host all all {self.addresses['data'].rsplit('.', 1)[0]}.0/24 trust\n")
        # A backend whose client vanished (a host lost, a cut cable) holds its locks until
        # TCP keepalive gives up on it: seconds here, not the kernel's two hours.
        options = (
            f"-p {PG_PORT} -k {self.folder / 'pg'} -c listen_addresses={self.addresses['data']} "
            "-c max_connections=300 -c fsync=off -c full_page_writes=off "
            "-c tcp_keepalives_idle=5 -c tcp_keepalives_interval=2 -c tcp_keepalives_count=3"
        )
        self._pg_ctl("-l", str(self.folder / "pg" / "postgres.log"), "-w", "-o", options, "start")
        if initialise:
            subprocess.run(
                [f"{_pg_binaries()}/createdb", "-h", self.addresses["data"], "-p", str(PG_PORT)]
                + ["-U", "postgres", DATABASE],
                check=True,
            )

    def stop_postgres(self) -> None:
        """As if the server crashed: no checkpoint, every connection dropped."""
        self._pg_ctl("-m", "immediate", "stop")

    def start_redis(self) -> None:
        folder = self.folder / "redis"
        folder.mkdir(exist_ok=True)
        command = [
            shutil.which("redis-server") or "redis-server",
            "--bind",
            self.addresses["data"],
            "--port",
            str(REDIS_PORT),
            "--protected-mode",
            "no",
            "--dir",
            str(folder),
            "--save",
            "",
            "--appendonly",
            "yes",
            "--appendfsync",
            "always",
        ]
        self.redis = self._process("data", "redis", command, dict(os.environ))
        wait_until(
            lambda: answers(self.addresses["data"], REDIS_PORT),
            timeout=30,
            message=f"Redis did not start:\n{self.redis.output()}",
        )

    # aws: the sandbox -------------------------------------------------------------------

    def start_sandbox(self) -> None:
        env = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}
        env.update(
            AWS_ACCESS_KEY_ID="testing",
            AWS_SECRET_ACCESS_KEY="testing",
            AWS_DEFAULT_REGION="us-east-1",
            PYTHONPATH=str(PROJECT_ROOT),
        )
        command = [sys.executable, "-m", "sandbox", "--host", self.addresses["aws"]]
        command += ["--port", str(SANDBOX_PORT), "--no-seed", "--retry-delays", "0.2,0.4"]
        sandbox = self.sandbox = self._process("aws", "sandbox", command, env)
        wait_until(
            lambda: "ready " in sandbox.output() or not sandbox.running,
            timeout=60,
            message=f"the sandbox did not start:\n{sandbox.output()}",
        )
        if not sandbox.running:
            raise RuntimeError(f"the sandbox exited:\n{sandbox.output()}")

    # web --------------------------------------------------------------------------------

    def start_web(self) -> None:
        command = [sys.executable, "-m", "gunicorn", "dashboard.wsgi"]
        command += ["--bind", f"{self.addresses['web']}:{WEB_PORT}", "--workers", "2"]
        command += ["--threads", "4", "--timeout", "60"]
        self.web = self._process("web", "gunicorn", command, self.django_env("web"))
        wait_until(
            lambda: self.health() is not None,
            timeout=60,
            message=f"gunicorn did not answer:\n{self.web.output()}",
        )

    def health(self) -> dict | None:
        """/health/?format=json from the web host; None when it does not answer."""
        import json

        try:
            with urllib.request.urlopen(f"{web_url()}/health/?format=json", timeout=10) as answer:
                return json.loads(answer.read())
        except urllib.error.HTTPError as error:  # 503 when down: still a JSON answer
            try:
                return json.loads(error.read())
            except ValueError:
                return {"status": f"HTTP {error.code}", "checks": {}}
        except (OSError, ValueError):
            return None

    # worker hosts -----------------------------------------------------------------------

    def start_worker_host(self, host: str, **env: str) -> None:
        environment = self.django_env(host, **env)
        worker = [sys.executable, "-m", "celery", "-A", "dashboard", "worker", "--pool", "threads"]
        worker += ["--concurrency", "4", "--without-mingle", "--without-gossip"]
        worker += ["--loglevel", "INFO", "--hostname", f"celery@{host}"]
        beat = [sys.executable, "-m", "celery", "-A", "dashboard", "beat", "--loglevel", "DEBUG"]
        beat += ["--schedule", str(self.folder / f"{host}-beat-schedule")]
        poller = [sys.executable, "manage.py", "poll_queues"]
        self.roles[host] = {
            "worker": self._process(host, "worker", worker, environment),
            "beat": self._process(host, "beat", beat, environment),
            "poller": self._process(host, "poller", poller, environment),
        }

    def kill_host_processes(self, host: str) -> list[int]:
        """SIGKILL every process of the host (the machine stays up, with its network); returns
        their PIDs."""
        killed = kill_namespace(self.network.namespace(host))
        for process in self.roles.get(host, {}).values():
            process.kill()
        return killed

    def power_off(self, host: str) -> None:
        self.network.power_off(host)
        for process in self.roles.get(host, {}).values():
            process.kill()

    def log_marks(self, name: str) -> dict[Path, int]:
        """Where the logs of the processes called `name` end now (see `logged_since`)."""
        paths = {process.log_path for process in self.processes if process.name == name}
        return {path: path.stat().st_size if path.exists() else 0 for path in paths}

    def logged_since(self, marks: dict[Path, int], name: str) -> str:
        """What the processes called `name` logged since `marks`."""
        paths = {process.log_path for process in self.processes if process.name == name}
        text = []
        for path in paths:
            with open(path, "rb") as log:
                log.seek(marks.get(path, 0))
                text.append(log.read().decode(errors="replace"))
        return "".join(text)

    def logs(self) -> str:
        parts = []
        for process in self.processes:
            parts.append(f"---- {process.host} {process.name}\n{process.output(2500)}")
        return "\n".join(parts)
