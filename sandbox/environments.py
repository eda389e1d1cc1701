"""Warm execution environments, kept and reused as Lambda does.

An environment belongs to one function version with one code and configuration (a changed
zip, memory size or environment variable never meets an old environment), serves one
invocation at a time, and waits idle for the next one for ``IDLE_TTL_S``; a reaper thread
then stops it. Concurrent invocations get their own environments, each with a cold start.
Deleting or updating a function retires its environments: idle ones stop at once, busy ones
when their invocation ends.
"""

import threading
import time
from collections import defaultdict
from collections.abc import Callable

from sandbox.execution import ExecutionEnvironment

IDLE_TTL_S = 300.0
# Lambda keeps idle environments without a limit; one machine cannot. Past this many idle
# ones, the least recently used is stopped (its function's next invocation is a cold start).
MAX_IDLE = 48


class EnvironmentPool:
    def __init__(self, idle_ttl_s: float = IDLE_TTL_S, max_idle: int = MAX_IDLE) -> None:
        self._idle_ttl_s = idle_ttl_s
        self._max_idle = max_idle
        self._lock = threading.Lock()
        self._idle: dict[tuple, list[ExecutionEnvironment]] = defaultdict(list)
        self._all: set[ExecutionEnvironment] = set()
        self._keys: dict[ExecutionEnvironment, tuple] = {}
        self._retired: set[ExecutionEnvironment] = set()
        self._stopped = threading.Event()
        self._reaper = threading.Thread(target=self._reap_loop, name="env-reaper", daemon=True)
        self._reaper.start()

    def acquire(self, key: tuple) -> ExecutionEnvironment | None:
        """An idle warm environment for ``key``, now busy; None means a cold start."""
        now = time.monotonic()
        stale = []
        found = None
        with self._lock:
            idle = self._idle.get(key, [])
            while idle:
                environment = idle.pop()  # the most recently used: its caches are warmest
                if now - environment.last_used < self._idle_ttl_s and environment.alive:
                    found = environment
                    break
                stale.append(environment)
        for environment in stale:
            self.discard(environment)
        return found

    def add(self, environment: ExecutionEnvironment, key: tuple = ()) -> bool:
        """Registers a new (busy) environment built for ``key``; False once the pool has
        stopped."""
        with self._lock:
            if self._stopped.is_set():
                return False
            self._all.add(environment)
            self._keys[environment] = key
            return True

    def retire(self, matches: Callable[[tuple], bool]) -> int:
        """Stops the idle environments whose key ``matches`` and marks the busy ones to stop
        when they are released; returns how many there were."""
        with self._lock:
            idle = [env for key, envs in self._idle.items() if matches(key) for env in envs]
            for key in [key for key in self._idle if matches(key)]:
                del self._idle[key]
            busy = [
                env for env in self._all if env not in idle and matches(self._keys.get(env, ()))
            ]
            self._retired.update(busy)
        for environment in idle:
            self.discard(environment)
        return len(idle) + len(busy)

    def release(self, key: tuple, environment: ExecutionEnvironment) -> None:
        evicted = None
        with self._lock:
            if (
                not self._stopped.is_set()
                and environment in self._all
                and environment not in self._retired
            ):
                self._idle[key].append(environment)
                evicted = self._least_recently_used_over_limit()
                environment = None
        if environment is not None:
            self.discard(environment)
        if evicted is not None:
            self.discard(evicted)

    def _least_recently_used_over_limit(self) -> ExecutionEnvironment | None:
        """Takes the oldest idle environment out when there are too many. Lock held."""
        idle = [(env.last_used, key, env) for key, envs in self._idle.items() for env in envs]
        if len(idle) <= self._max_idle:
            return None
        _, key, oldest = min(idle, key=lambda entry: entry[0])
        self._idle[key].remove(oldest)
        return oldest

    def discard(self, environment: ExecutionEnvironment) -> None:
        """Lambda replaces an environment after a timeout, a crash or an init error."""
        with self._lock:
            self._all.discard(environment)
            self._keys.pop(environment, None)
            self._retired.discard(environment)
        environment.close()

    def count(self) -> int:
        with self._lock:
            return len(self._all)

    def close_all(self) -> None:
        """Stops every environment's process: nothing outlives the sandbox."""
        self._stopped.set()
        with self._lock:
            environments = list(self._all)
            self._all.clear()
            self._idle.clear()
            self._keys.clear()
            self._retired.clear()
        for environment in environments:
            environment.close()

    def _reap_loop(self) -> None:
        interval = min(max(self._idle_ttl_s / 10, 0.05), 10.0)
        while not self._stopped.wait(interval):
            now = time.monotonic()
            expired = []
            with self._lock:
                for idle in self._idle.values():
                    for environment in list(idle):
                        if now - environment.last_used >= self._idle_ttl_s:
                            idle.remove(environment)
                            expired.append(environment)
            for environment in expired:
                self.discard(environment)
