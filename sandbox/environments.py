"""Warm execution environments, to decide which invocations are cold starts.

Every invocation runs in a fresh interpreter, but we account for them as Lambda does: an
environment is created for a function version and code hash on a cold start, serves one
invocation at a time, keeps its log stream, and is reused while it has been idle for less than
``IDLE_TTL_S``. Concurrent invocations therefore get their own environments and cold starts.
"""

import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field

from sandbox.logs import new_stream_name

IDLE_TTL_S = 300.0


@dataclass
class Environment:
    key: tuple
    log_stream_name: str
    last_used: float = field(default_factory=time.monotonic)


class EnvironmentPool:
    def __init__(self, idle_ttl_s: float = IDLE_TTL_S) -> None:
        self._idle_ttl_s = idle_ttl_s
        self._lock = threading.Lock()
        self._idle: dict[tuple, list[Environment]] = defaultdict(list)

    def acquire(self, key: tuple, version: str) -> tuple[Environment, bool]:
        """Returns an environment and whether this is a cold start."""
        now = time.monotonic()
        with self._lock:
            idle = self._idle[key]
            while idle:
                environment = idle.pop()
                if now - environment.last_used < self._idle_ttl_s:
                    return environment, False
        return Environment(key, new_stream_name(version)), True

    def release(self, environment: Environment) -> None:
        environment.last_used = time.monotonic()
        with self._lock:
            self._idle[environment.key].append(environment)

    def discard(self, environment: Environment) -> None:
        """Lambda replaces an environment after a timeout or a crash: the next start is cold."""
