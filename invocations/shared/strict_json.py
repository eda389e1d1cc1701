"""JSON as Lambda takes it (text that pages and the database can hold: shared/text.py).

Python's `json.loads` accepts more than Lambda does (NaN, Infinity) and fails in ways that are not
a JSONDecodeError (RecursionError on deep nesting, ValueError on an integer of thousands of
digits). `loads` turns every one of those into `InvalidJson` with a sentence a person can act on,
so a form shows it instead of answering 500.
"""

import json
import math
import sys

# Real events are a dozen levels deep; the parser of queue records draws the same line.
MAX_DEPTH = 100


class InvalidJson(ValueError):
    pass


def _refuse_constant(name: str):
    raise InvalidJson(f"{name} is not JSON (Lambda refuses it): use null or a string instead.")


def _finite_float(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise InvalidJson(f"the number {text[:40]} is out of range for a 64-bit float.")
    return number


def _bounded_int(text: str) -> int:
    digits = len(text.lstrip("-"))
    limit = sys.get_int_max_str_digits() or 4300
    if digits > limit:
        raise InvalidJson(
            f"a number has {digits:,} digits; at most {limit:,} digits are accepted "
            "(Python runtimes refuse longer ones)."
        )
    return int(text)


def _depth(value) -> int:
    """How deeply arrays and objects nest, without recursion."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict):
            item = list(item.values())
        if isinstance(item, list):
            deepest = max(deepest, level)
            stack.extend((child, level + 1) for child in item)
    return deepest


def loads(text: str):
    """The value of `text`, or InvalidJson (a ValueError) saying what is wrong.

    A json.JSONDecodeError (with its line and column) is raised as it is."""
    try:
        value = json.loads(
            text, parse_constant=_refuse_constant, parse_float=_finite_float, parse_int=_bounded_int
        )
    except RecursionError:
        raise InvalidJson(
            f"arrays or objects are nested too deeply (at most {MAX_DEPTH} levels)."
        ) from None
    # Counting brackets first spares the walk for nearly every payload.
    if text.count("[") + text.count("{") > MAX_DEPTH and _depth(value) > MAX_DEPTH:
        raise InvalidJson(f"arrays or objects are nested more than {MAX_DEPTH} levels deep.")
    return value
