"""One execution environment: a long-lived runtime process and its Runtime API, as on Lambda.

Python functions run under AWS's own runtime interface client (``python -m awslambdaric
module.handler``); a ``provided.*`` function runs the ``bootstrap`` from its zip. Either one
loops on the environment's Runtime API (``runtime_api``), so module state, ``/tmp`` and
anything the init code set up persist between the invocations the environment serves, one at
a time.

The process's stdout and stderr share one pipe; what it printed before its first ``next`` is
the init phase's output, and what it printed between handing out an event and its answer is
that invocation's. "Max Memory Used" is the process's own peak RSS (VmHWM): ``os.wait4``'s
``ru_maxrss`` cannot be used because Linux carries the parent's high-water mark (the whole
moto server) across fork and exec. The resident size is watched while a handler runs, and the
process is killed once it passes the function's memory size (``Runtime.OutOfMemory``).
"""

import contextlib
import ctypes
import fcntl
import os
import queue
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path

from sandbox.runtime_api import Event, RuntimeApi

INIT_LIMIT_S = 10.0  # Lambda's limit on the init phase
MEMORY_CHECK_S = 0.02
BOOTSTRAP_NAMES = ("bootstrap",)


@dataclass
class Outcome:
    """What one invocation did. ``kind`` is "response", "error" (the runtime reported a
    function error), "init_error", "timeout", "exit" (the process died) or "oom"."""

    kind: str
    body: bytes = b""
    error_type: str = ""
    output: str = ""  # what the process printed during the invocation
    init_output: str = ""  # what it printed while starting (cold starts only)
    duration_ms: float = 0.0
    init_ms: float | None = None  # only on the environment's first invocation
    max_rss_mb: int = 1
    exit_status: int | None = None


@dataclass(frozen=True)
class LaunchSpec:
    command: list[str]
    env: dict
    cwd: str
    memory_mb: int
    # (host directory, path the function sees it at), bound in a private mount namespace
    mounts: tuple[tuple[str, str], ...] = ()


class ExecutionEnvironment:
    def __init__(self, spec: LaunchSpec, log_stream_name: str, tmp_dir: Path) -> None:
        self.spec = spec
        self.log_stream_name = log_stream_name
        self.tmp_dir = tmp_dir
        self.api = RuntimeApi()
        self.last_used = time.monotonic()
        self.initialised = False
        self._output = _OutputPipe()
        self._process: subprocess.Popen | None = None
        self._spawned_at = 0.0
        self._closed = False

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    @property
    def alive(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self) -> None:
        """Starts the runtime process; the init phase runs until its first ``next``."""
        env = {**self.spec.env, "AWS_LAMBDA_RUNTIME_API": self.api.address}
        self._spawned_at = time.monotonic()
        self._process = _spawn(
            self.spec.command, env, self.spec.cwd, self._output.write_fd, self.spec.mounts
        )
        self._output.after_spawn()
        waiter = threading.Thread(target=self._wait_for_exit, name="runtime-exit", daemon=True)
        waiter.start()

    def invoke(self, event: Event, timeout_s: float) -> Outcome:
        init_ms = None
        init_output = ""
        if not self.initialised:
            ready = self._wait_for_init()
            init_ms = (time.monotonic() - self._spawned_at) * 1000
            init_output = self._output.take()
            if ready.kind != "ready":
                ready.init_output = ""
                ready.output = init_output
                ready.init_ms = init_ms
                if ready.kind == "timeout":
                    ready.duration_ms = INIT_LIMIT_S * 1000
                ready.max_rss_mb = self._peak_rss_mb()
                return ready
            self.initialised = True
        # Anything printed between invocations (a background thread) stays in the pipe's
        # buffer and is logged with this one.

        started = time.monotonic()
        # The clock starts once the environment is ready, as on Lambda: init is not counted.
        event = replace(event, deadline_ms=int(time.time() * 1000 + timeout_s * 1000))
        self.api.events.put(event)
        outcome = self._wait_for_answer(started + timeout_s)
        outcome.duration_ms = (
            timeout_s * 1000 if outcome.kind == "timeout" else (time.monotonic() - started) * 1000
        )
        outcome.init_ms = init_ms
        outcome.init_output = init_output
        outcome.output = self._output.take()
        outcome.max_rss_mb = self.spec.memory_mb if outcome.kind == "oom" else self._peak_rss_mb()
        self.last_used = time.monotonic()
        return outcome

    def close(self) -> None:
        """Kills the process group and frees the Runtime API and /tmp."""
        if self._closed:
            return
        self._closed = True
        if self._process is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self._process.pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._process.wait(timeout=5)
        self.api.close()
        self._output.close()
        shutil.rmtree(self.tmp_dir, ignore_errors=True)

    def _wait_for_init(self) -> Outcome:
        deadline = self._spawned_at + INIT_LIMIT_S
        while True:
            try:
                signal_ = self.api.signals.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                self._kill()
                return Outcome("timeout")
            kind = signal_[0]
            if kind == "ready":
                return Outcome("ready")
            if kind == "init_error":
                # The runtime exits after reporting; its last words are still in the pipe.
                self._await_exit(1.0)
                return Outcome("init_error", body=signal_[1], error_type=signal_[2])
            if kind == "exit":
                return Outcome("exit", exit_status=signal_[1])

    def _wait_for_answer(self, deadline: float) -> Outcome:
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self._kill()
                return Outcome("timeout")
            try:
                signal_ = self.api.signals.get(timeout=min(remaining, MEMORY_CHECK_S))
            except queue.Empty:
                if self._current_rss_mb() > self.spec.memory_mb:
                    self._kill()
                    return Outcome("oom", exit_status=-signal.SIGKILL)
                continue
            kind = signal_[0]
            if kind == "response":
                return Outcome("response", body=signal_[1])
            if kind == "error":
                return Outcome("error", body=signal_[1], error_type=signal_[2])
            if kind == "exit":
                return Outcome("exit", exit_status=signal_[1])
            # "ready" left over from the previous invocation's next: keep waiting.

    def _wait_for_exit(self) -> None:
        status = self._process.wait()
        self.api.signals.put(("exit", status))

    def _await_exit(self, seconds: float) -> None:
        with contextlib.suppress(subprocess.TimeoutExpired):
            self._process.wait(timeout=seconds)

    def _kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self._process.pid, signal.SIGKILL)
        self._await_exit(2.0)

    def _current_rss_mb(self) -> float:
        return _status_kib(self._process.pid, "VmRSS:") / 1024

    def _peak_rss_mb(self) -> int:
        return max(1, -(-_status_kib(self._process.pid, "VmHWM:") // 1024))


def _status_kib(pid: int, field: str) -> int:
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith(field):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


# Processes are started from one long-lived thread: the death signal of prctl(PR_SET_PDEATHSIG)
# fires when the thread that forked exits, and request threads are short-lived.
_spawner_lock = threading.Lock()
_spawner: "_Spawner | None" = None


class _Spawner:
    def __init__(self) -> None:
        self._requests: queue.Queue = queue.Queue()
        threading.Thread(target=self._loop, name="runtime-spawner", daemon=True).start()

    def spawn(self, *args) -> subprocess.Popen:
        answer: queue.Queue = queue.Queue(maxsize=1)
        self._requests.put((args, answer))
        ok, value = answer.get()
        if not ok:
            raise value
        return value

    def _loop(self) -> None:
        while True:
            args, answer = self._requests.get()
            try:
                answer.put((True, _popen(*args)))
            except Exception as exc:
                answer.put((False, exc))


def _spawn(command: list[str], env: dict, cwd: str, output_fd: int, mounts=()) -> subprocess.Popen:
    global _spawner
    with _spawner_lock:
        if _spawner is None:
            _spawner = _Spawner()
    return _spawner.spawn(command, env, cwd, output_fd, tuple(mounts))


def _popen(
    command: list[str], env: dict, cwd: str, output_fd: int, mounts: tuple = ()
) -> subprocess.Popen:
    def prepare_child() -> None:
        _die_with_parent()
        if mounts:
            _enter_private_mounts(mounts)
            os.chdir(cwd)  # Popen changed directory before the mounts

    return subprocess.Popen(
        command,
        stdin=subprocess.DEVNULL,
        stdout=output_fd,
        stderr=output_fd,
        env=env,
        cwd=None if mounts else cwd,
        start_new_session=True,  # so a timeout kills whatever the handler started too
        preexec_fn=prepare_child,
    )


def _die_with_parent() -> None:
    # If the sandbox is killed without a chance to clean up, its runtimes go with it. Runs in
    # the forked child, so it only calls what was loaded beforehand.
    if _libc is not None:
        _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def _enter_private_mounts(mounts: tuple) -> None:
    """In the forked child: a mount namespace of its own, where each host directory is bound at
    the path Lambda uses (/var/task, /opt, /var/runtime read-only as on Lambda; /tmp writable).
    Nothing is visible outside the process."""
    if _libc is None or _unshare(CLONE_NEWNS) != 0:
        raise OSError(ctypes.get_errno(), "unshare(CLONE_NEWNS) failed")
    # Mounts made here must not propagate back to the host's namespace.
    if _mount(b"none", b"/", None, MS_REC | MS_PRIVATE, None) != 0:
        raise OSError(ctypes.get_errno(), "making / private failed")
    for source, target in mounts:
        if _mount(source.encode(), target.encode(), None, MS_BIND | MS_REC, None) != 0:
            raise OSError(ctypes.get_errno(), f"binding {source} at {target} failed")
        if target in WRITABLE_PATHS:
            continue
        read_only = MS_BIND | MS_REMOUNT | MS_RDONLY
        if _mount(b"none", target.encode(), None, read_only, None) != 0:
            raise OSError(ctypes.get_errno(), f"making {target} read-only failed")


PR_SET_PDEATHSIG = 1
CLONE_NEWNS = 0x00020000
MS_RDONLY = 1
MS_REMOUNT = 32
MS_BIND = 4096
MS_REC = 16384
MS_PRIVATE = 1 << 18
try:
    _libc = ctypes.CDLL(None, use_errno=True)
    # Looked up now: the forked child must not load anything.
    _unshare = _libc.unshare
    _mount = _libc.mount
    _mount.argtypes = [
        ctypes.c_char_p,
        ctypes.c_char_p,
        ctypes.c_char_p,
        ctypes.c_ulong,
        ctypes.c_void_p,
    ]
except (OSError, AttributeError):
    _libc = None

LAMBDA_PATHS = ("/var/task", "/opt", "/var/runtime")
WRITABLE_PATHS = ("/tmp",)
_private_mounts: bool | None = None
_private_mounts_lock = threading.Lock()


def private_mounts_available() -> bool:
    """Whether functions can see their code at /var/task and their layers at /opt, through a
    private mount namespace (Linux, with the right to unshare and mount: root here, or a
    container with CAP_SYS_ADMIN). The directories must exist on the host to be mounted over;
    /var/task, /opt and /var/runtime are created (empty) if missing. Checked once, by starting
    a process that way."""
    global _private_mounts
    with _private_mounts_lock:
        if _private_mounts is None:
            _private_mounts = _probe_private_mounts()
        return _private_mounts


def _probe_private_mounts() -> bool:
    if _libc is None or not sys.platform.startswith("linux"):
        return False
    try:
        for path in LAMBDA_PATHS:
            os.makedirs(path, exist_ok=True)
        with tempfile.TemporaryDirectory() as probe:
            Path(probe, "probe").write_text("ok")
            mounts = tuple((probe, path) for path in LAMBDA_PATHS)
            check = "import sys; sys.exit(0 if open('/var/task/probe').read() == 'ok' else 1)"
            process = _popen(
                [sys.executable, "-S", "-c", check], {}, "/var/task", subprocess.DEVNULL, mounts
            )
            return process.wait(timeout=30) == 0
    except (OSError, subprocess.SubprocessError):
        return False


class _OutputPipe:
    """The process's stdout and stderr. A thread empties the pipe as it fills (so a chatty
    handler never blocks), and ``take()`` drains what is left; both read only under the lock,
    so every byte written before the runtime's answer is in the invocation it belongs to."""

    def __init__(self) -> None:
        self._read_fd, self.write_fd = os.pipe()
        flags = fcntl.fcntl(self._read_fd, fcntl.F_GETFL)
        fcntl.fcntl(self._read_fd, fcntl.F_SETFL, flags | os.O_NONBLOCK)
        self._lock = threading.Lock()
        self._buffer = bytearray()
        self._open = True

    def after_spawn(self) -> None:
        os.close(self.write_fd)  # the child holds its copy; EOF comes when it exits
        threading.Thread(target=self._pump, name="runtime-output", daemon=True).start()

    def take(self) -> str:
        with self._lock:
            self._drain()
            data = bytes(self._buffer)
            self._buffer.clear()
        return data.decode("utf-8", errors="replace")

    def close(self) -> None:
        with self._lock:
            if self._open:
                self._open = False
                os.close(self._read_fd)

    def _pump(self) -> None:
        while True:
            with self._lock:
                if not self._open:
                    return
                fd = self._read_fd
            try:
                readable, _, _ = select.select([fd], [], [], 0.5)
            except (OSError, ValueError):
                return
            if not readable:
                continue
            with self._lock:
                if not self._open or not self._drain():
                    return

    def _drain(self) -> bool:
        """Reads what the pipe holds; False at end of file. Call with the lock held."""
        if not self._open:
            return False
        while True:
            try:
                chunk = os.read(self._read_fd, 65536)
            except BlockingIOError:
                return True
            except OSError:
                return False
            if not chunk:
                return False
            self._buffer.extend(chunk)


# The interpreter starts without ``site`` (``-S``), so the host's site-packages are not on the
# function's path: only PYTHONPATH (the code, the layers, the runtime's own packages) and the
# standard library are. ``exit``, ``quit``, ``help`` and ``copyright``, which ``site`` defines,
# are defined here.
_PYTHON_BOOT = (
    "import runpy, site\n"
    "site.setquit(); site.setcopyright(); site.sethelper()\n"
    "runpy.run_module('awslambdaric', run_name='__main__', alter_sys=True)\n"
)


def python_command(handler: str) -> list[str]:
    return [sys.executable, "-S", "-c", _PYTHON_BOOT, handler]


def runtime_dir() -> str:
    import awslambdaric

    return str(Path(awslambdaric.__file__).parent)
