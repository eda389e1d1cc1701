"""Runs one invocation in a fresh interpreter and reports what happened.

"Max Memory Used" is the child's own peak RSS (VmHWM), which it reports at the start and at the
end; ``os.wait4``'s ``ru_maxrss`` cannot be used because Linux carries the parent's high-water
mark (the whole moto server) across fork and exec. The timeout clock starts when the child
says the handler is imported, so a slow import is init time, as on Lambda.
"""

import contextlib
import json
import os
import selectors
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

CHILD_SCRIPT = str(Path(__file__).with_name("runtime_child.py"))
INIT_LIMIT_S = 10.0  # Lambda's limit on the init phase


@dataclass
class ChildOutcome:
    output: str  # what the handler printed, stdout and stderr interleaved
    result: str | None  # the JSON the handler returned
    error: dict | None  # Lambda's error payload, when the runtime reported one
    init_ms: float
    duration_ms: float
    max_rss_mb: int
    timed_out: bool
    exit_status: int


def run_child(request: dict, env: dict, timeout_s: float) -> ChildOutcome:
    spawned = time.monotonic()
    process = subprocess.Popen(
        [sys.executable, CHILD_SCRIPT],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        cwd=request["task_root"],
        start_new_session=True,  # so a timeout kills whatever the handler started too
    )
    try:
        process.stdin.write(json.dumps({**request, "timeout_s": timeout_s}).encode())
        process.stdin.close()
    except BrokenPipeError:
        pass

    output = bytearray()
    messages = _MessageReader()
    deadline = spawned + INIT_LIMIT_S
    handler_started = None
    timed_out = False

    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ, output)
        selector.register(process.stderr, selectors.EVENT_READ, messages)
        while selector.get_map():
            remaining = deadline - time.monotonic()
            if remaining <= 0 and not timed_out:
                timed_out = True
                _kill_group(process.pid)
                deadline = time.monotonic() + 2.0  # time to drain what is left
                continue
            if remaining <= 0:
                break  # a grandchild outside the group holds the pipe: stop waiting
            for key, _ in selector.select(remaining):
                chunk = os.read(key.fd, 65536)
                if not chunk:
                    selector.unregister(key.fileobj)
                    continue
                if key.data is output:
                    output.extend(chunk)
                else:
                    messages.feed(chunk)
                    if handler_started is None and messages.started is not None:
                        handler_started = time.monotonic()
                        if not timed_out:
                            deadline = handler_started + timeout_s

    process.stdout.close()
    process.stderr.close()
    process.wait()

    messages.feed(b"\n")  # flush a last line that had no newline
    if messages.stray:
        output.extend(("\n".join(messages.stray) + "\n").encode())
    final = messages.final or {}
    if timed_out and handler_started is not None:
        duration_ms = timeout_s * 1000
    else:
        duration_ms = final.get("duration_ms", (time.monotonic() - spawned) * 1000)
    return ChildOutcome(
        output=output.decode("utf-8", errors="replace"),
        result=None if timed_out else final.get("result"),
        error=None if timed_out else final.get("error"),
        init_ms=(messages.started or {}).get("init_ms", 0.0),
        duration_ms=duration_ms,
        max_rss_mb=max(1, -(-messages.peak_kib // 1024)),
        timed_out=timed_out,
        exit_status=process.returncode,
    )


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)


class _MessageReader:
    """Collects the child's line-delimited JSON messages from its private channel."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self.started: dict | None = None
        self.final: dict | None = None
        self.stray: list[str] = []
        self.peak_kib = 0

    def feed(self, chunk: bytes) -> None:
        self._buffer.extend(chunk)
        if b"\n" not in chunk:
            return  # a large result arrives in many chunks: only look once it is complete
        while b"\n" in self._buffer:
            line, _, rest = self._buffer.partition(b"\n")
            self._buffer = bytearray(rest)
            self._take(line)

    def _take(self, line: bytes) -> None:
        if not line.strip():
            return
        try:
            message = json.loads(line)
        except ValueError:
            # The interpreter complained before our channel was set up: keep it for the log.
            self.stray.append(line.decode("utf-8", errors="replace"))
            return
        self.peak_kib = max(self.peak_kib, message.get("peak_kib", 0))
        if "started" in message:
            self.started = message
        else:
            self.final = message
