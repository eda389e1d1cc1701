"""How soon a page asks again about work in progress (an invocation's result, a replay batch).

A fixed `every 1s` shows a result that took 30 ms up to a second late, and most of what people
wait for here finishes in tens of milliseconds. So a polling fragment asks at once and then less
and less often: each answer carries the next step in its URL and a `load delay:…` trigger (the
swapped-in fragment fires its own next request), until the wait settles at once a second. The
first second costs a handful of short requests; after it, the same load as before.
"""

from invocations.shared.ids import as_count

# Milliseconds before each successive request; the last one repeats.
SCHEDULE_MS = (20, 30, 50, 80, 120, 200, 300, 500, 1000)


def next_poll(step: int) -> tuple[str, int]:
    """(the htmx trigger for poll number `step`, the step the following request carries)."""
    step = max(0, step)
    delay = SCHEDULE_MS[min(step, len(SCHEDULE_MS) - 1)]
    return f"load delay:{delay}ms", min(step + 1, len(SCHEDULE_MS))


def step_of(query) -> int:
    """The step a polling request carries (`?step=N`); 0 when missing or not a number (read
    as every number from a URL is: shared/ids.py)."""
    return min(as_count(query.get("step")) or 0, len(SCHEDULE_MS))
