"""Waiting for a condition instead of sleeping: the suite's one `wait_until`."""

import time


def wait_until(condition, timeout: float = 10.0, interval: float = 0.05, message: str = ""):
    """Polls `condition()` until it returns something true, and returns that; AssertionError
    (with `message`) once `timeout` seconds have passed. The timeout is a bound on a wait for
    something expected, never what a test asserts."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(message or f"not true after {timeout} s: {condition}")
        time.sleep(interval)
