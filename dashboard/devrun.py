"""The small processes behind `make run` (see the Makefile and the Procfile).

python -m dashboard.devrun foreground CMD...  run CMD (honcho) as the terminal's foreground
                                             job: Ctrl-C reaches it, not make, and stopping
                                             that way is a clean exit (status 0); SIGINT,
                                             SIGTERM or SIGHUP sent to make's own process
                                             group (no terminal: nohup, tmux, a script) is
                                             passed on to it, and so is make's own end
python -m dashboard.devrun redis PORT         redis-server that stops last: on SIGTERM it
                                             waits (up to 3 s) for its clients to leave
python -m dashboard.devrun ready              waits for the web page, the sandbox and a
                                             worker, then prints the banner once
"""

import contextlib
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request

WEB = "http://127.0.0.1:{port}"
BANNER = "Ready: open {url}, log in as demo / lambda-triage-demo"
REDIS_LAST_WAIT = 3.0  # honcho kills whatever still runs 5 s after Ctrl-C


def foreground(command: list[str]) -> int:
    """Run `command` in its own process group and give it the terminal, so that Ctrl-C is
    its signal alone: honcho stops its processes and answers 130, which is success here (make
    would otherwise print "Error 130", or "Interrupt" when it got the signal too)."""
    try:
        tty = os.open("/dev/tty", os.O_RDWR)
    except OSError:
        tty = None
    child = subprocess.Popen(command, process_group=0)
    if tty is not None:
        _give_terminal(tty, child.pid)

    def pass_on(signum: int, _frame: object) -> None:
        # Ctrl-C at a terminal reaches the child's group alone (it is the foreground job). A
        # signal sent to *our* group (kill -TERM -PGID, a script, nohup, tmux's kill-session)
        # would miss the child, in its own group, and leave everything running: pass it on.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(child.pid, signum)

    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, pass_on)
    # make itself stopped alone (`timeout make run`, a supervisor that signals only its child):
    # the kernel sends us SIGTERM, which is passed on like the others.
    _die_with_parent()
    if os.getppid() == 1:  # make was already gone before the line above
        pass_on(signal.SIGTERM, None)
    try:
        status = child.wait()
    finally:
        if tty is not None:
            _give_terminal(tty, os.getpgrp())
            os.close(tty)
    stopped = (0, 130, 143, -signal.SIGINT, -signal.SIGTERM, -signal.SIGHUP)
    return 0 if status in stopped else status


def _give_terminal(tty: int, group: int) -> None:
    # A background process that sets the foreground group gets SIGTTOU unless it ignores it.
    previous = signal.signal(signal.SIGTTOU, signal.SIG_IGN)
    try:
        os.tcsetpgrp(tty, group)
    except OSError:
        pass  # no controlling terminal after all: Ctrl-C then reaches everyone, as usual
    finally:
        signal.signal(signal.SIGTTOU, previous)


def redis(port: str) -> int:
    """redis-server on 127.0.0.1:`port`, stopped after the worker and beat let go of it, so
    that they do not log connection errors while stopping."""
    # Its own session: honcho signals this process's whole group, and Redis must outlive the
    # worker and beat. It still dies with this process (PR_SET_PDEATHSIG), never orphaned.
    # Append-only, so that tasks waiting in Redis survive a restart of `make run`.
    os.makedirs(".run/redis", exist_ok=True)
    server = subprocess.Popen(
        [
            "redis-server",
            *("--port", port, "--bind", "127.0.0.1", "--save", ""),
            *("--appendonly", "yes", "--appendfsync", "everysec", "--dir", ".run/redis"),
        ],
        start_new_session=True,
        preexec_fn=_die_with_parent,
    )
    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
    signal.signal(signal.SIGINT, lambda *_: stopping.append(True))
    while not stopping and server.poll() is None:
        time.sleep(0.1)
    if server.poll() is None:
        deadline = time.monotonic() + REDIS_LAST_WAIT
        while time.monotonic() < deadline and _clients(port) > 0:
            time.sleep(0.1)
        server.terminate()
    return server.wait()


def _die_with_parent() -> None:
    import ctypes

    PR_SET_PDEATHSIG = 1
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def _clients(port: str) -> int:
    """Connected clients other than the one asking (0 when Redis does not answer)."""
    import redis as redis_client

    try:
        connection = redis_client.Redis(host="127.0.0.1", port=int(port), socket_timeout=0.5)
        count = len(connection.client_list()) - 1
        connection.close()
        return count
    except redis_client.RedisError:
        return 0


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:
            return response.status < 500
    except urllib.error.HTTPError as error:
        return error.code < 500  # the sandbox answers an unsigned GET with 4xx: it is up
    except OSError:
        return False


def _sandbox_seeded(since: float) -> bool:
    """The sandbox has seeded its functions and the dashboard has read them: its management
    command refreshes the inventory once seeding is done (rows from an earlier run do not
    count, hence `since`)."""
    _django()
    from datetime import UTC, datetime

    from invocations.models import Function, InventorySync

    started = datetime.fromtimestamp(since, UTC)
    try:
        return (
            InventorySync.objects.filter(succeeded_at__gte=started).exists()
            and Function.objects.filter(present=True).exists()
        )
    except Exception:  # the database is being migrated or locked: ask again
        return False


def _django() -> None:
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dashboard.settings")
    django.setup()


def _worker_answers() -> bool:
    _django()
    from dashboard.celery import app

    try:
        return bool(app.control.ping(timeout=1.0))
    except Exception:  # the broker is not up yet
        return False


def ready() -> int:
    """Print the banner once the web page, the sandbox and a worker answer; then stay (honcho
    stops everything when one process ends)."""
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(True))
    signal.signal(signal.SIGINT, lambda *_: stop.append(True))
    web = WEB.format(port=os.environ.get("WEB_PORT", "8000"))
    sandbox = os.environ.get("AWS_ENDPOINT_URL", "")
    started = time.monotonic()
    began = time.time()
    waiting = [
        ("the web server", lambda: _answers(f"{web}/accounts/login/")),
        ("the sandbox", lambda: not sandbox or _sandbox_seeded(began)),
        ("a worker", _worker_answers),
    ]
    while waiting and not stop:
        if waiting[0][1]():
            waiting.pop(0)
            continue
        if time.monotonic() - started > 120:
            print(f"Still waiting for {waiting[0][0]} after two minutes: see its lines above.")
            started = time.monotonic()
        time.sleep(0.5)
    if stop:
        return 0
    line = BANNER.format(url=web)
    print(f"\n{'=' * len(line)}\n{line}\n{'=' * len(line)}\n", flush=True)
    while not stop:
        time.sleep(0.5)
    return 0


def main(argv: list[str]) -> int:
    if len(argv) >= 2 and argv[0] == "foreground":
        return foreground(argv[1:])
    if len(argv) == 2 and argv[0] == "redis":
        return redis(argv[1])
    if argv == ["ready"]:
        return ready()
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
