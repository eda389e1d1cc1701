"""In-flight invocations per function, so reserved concurrency can throttle as on Lambda."""

import threading
from collections import Counter


class InFlight:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._running: Counter[str] = Counter()

    def try_enter(self, function_key: str, reserved: int | None) -> bool:
        """Counts one more running invocation unless that would exceed ``reserved``."""
        with self._lock:
            if reserved is not None and self._running[function_key] >= reserved:
                return False
            self._running[function_key] += 1
            return True

    def leave(self, function_key: str) -> None:
        with self._lock:
            self._running[function_key] -= 1
            if self._running[function_key] <= 0:
                del self._running[function_key]

    def running(self, function_key: str) -> int:
        with self._lock:
            return self._running[function_key]
