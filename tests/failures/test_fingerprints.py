"""Which failures group together (the error fingerprint)."""

import hashlib
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from invocations.failures.fingerprints import classify, fingerprint, normalise_message

REQUEST_ID = "c9b8fa9f-5a7f-4b2e-af9c-0c604cde93a5"
OTHER_REQUEST_ID = "0f1e2d3c-4b5a-4697-8877-665544332211"


@pytest.mark.parametrize(
    ("message", "normalised"),
    [
        ("Order 42 not found", "Order <num> not found"),
        (f"Payment {REQUEST_ID} declined", "Payment <uuid> declined"),
        ("KeyError: 'customer_id'", "KeyError: <str>"),
        ('Invalid value "blue" for colour', "Invalid value <str> for colour"),
        ("Token expired at 2026-11-26T15:48:18.521Z", "Token expired at <time>"),
        ("Token expired at 2026-11-26 15:48:18+00:00", "Token expired at <time>"),
        ("Object at 0x7f3a2c1b9e80 is closed", "Object at <hex> is closed"),
        ("Trace Root=1-5759e988-bd862e3fe1be46a994272793", "Trace Root=<num>-<hex>-<hex>"),
        (
            "User: arn:aws:sts::123456789012:assumed-role/orders-role/orders is not authorized",
            "User: arn:aws:sts::<account>:assumed-role/orders-role/orders is not authorized",
        ),
        ("can't  decode\nbody", "can't decode body"),
        (
            f"RequestId: {REQUEST_ID} Error: Runtime exited with error: exit status 1",
            "Runtime exited with error: exit status <num>",
        ),
        ("deadbeef accepted", "deadbeef accepted"),
    ],
)
def test_it_replaces_the_variable_parts_of_a_message(message, normalised):
    result = normalise_message(message)

    assert result == normalised


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("Order 41 not found", "Order 1041 not found"),
        (f"Payment {REQUEST_ID} declined", f"Payment {OTHER_REQUEST_ID} declined"),
        ("KeyError: 'customer_id'", "KeyError: 'order_id'"),
        ("expired at 2026-11-26T15:48:18.521Z", "expired at 2027-01-02T03:04:05Z"),
        ("Object at 0x7f3a2c1b9e80 is closed", "Object at 0x55d0aa12 is closed"),
    ],
)
def test_it_groups_messages_that_differ_only_in_a_variable_part(first, second):
    one = fingerprint("production", "orders", "ValueError", first, "RetriesExhausted", "failure")

    other = fingerprint("production", "orders", "ValueError", second, "RetriesExhausted", "failure")

    assert one == other


def test_it_separates_different_error_types():
    key_error = fingerprint("production", "orders", "KeyError", "'id'", "RetriesExhausted")

    value_error = fingerprint("production", "orders", "ValueError", "'id'", "RetriesExhausted")

    assert key_error != value_error


def test_it_separates_different_functions_and_environments():
    orders = fingerprint("production", "orders", "ValueError", "bad order")

    assert fingerprint("production", "payments", "ValueError", "bad order") != orders
    assert fingerprint("staging", "orders", "ValueError", "bad order") != orders


def test_it_separates_different_messages():
    bad_order = fingerprint("production", "orders", "ValueError", "bad order")

    bad_customer = fingerprint("production", "orders", "ValueError", "bad customer")

    assert bad_order != bad_customer


def test_it_groups_timeouts_whatever_their_duration_or_wording():
    new_style = fingerprint(
        "production",
        "orders",
        "Sandbox.Timedout",
        f"RequestId: {REQUEST_ID} Error: Task timed out after 3.00 seconds",
        "RetriesExhausted",
        "failure",
    )

    old_style = fingerprint(
        "production",
        "orders",
        "",
        f"2026-11-26T15:48:18.521Z {OTHER_REQUEST_ID} Task timed out after 900.10 seconds",
        "RetriesExhausted",
        "failure",
    )
    from_dlq = fingerprint(
        "production", "orders", "", "Task timed out after 6.00 seconds", "", "dlq"
    )

    assert new_style == old_style == from_dlq


def test_it_groups_an_exit_error_from_a_record_with_the_same_one_from_a_dlq():
    from_record = fingerprint(
        "production",
        "orders",
        "Runtime.ExitError",
        f"RequestId: {REQUEST_ID} Error: Runtime exited with error: exit status 1",
        "RetriesExhausted",
        "failure",
    )

    from_dlq = fingerprint(
        "production", "orders", "", "Runtime exited with error: exit status 1", "", "dlq"
    )

    assert from_record == from_dlq


def test_it_is_a_sha256_of_the_documented_parts_so_it_is_stable_across_runs():
    parts = ["2", "production", "orders", "error", "ValueError", "bad order <num>"]

    digest = fingerprint("production", "orders", "ValueError", "bad order 42", "", "failure")

    assert digest == hashlib.sha256(json.dumps(parts).encode()).hexdigest()


@pytest.mark.parametrize(
    ("error_type", "message", "condition", "kind", "expected"),
    [
        ("Sandbox.Timedout", "Task timed out after 3.00 seconds", "", "failure", "timeout"),
        ("", "2026-11-26T15:48:18.521Z x Task timed out after 3.00 seconds", "", "dlq", "timeout"),
        (
            "Runtime.OutOfMemory",
            "Runtime exited with error: signal: killed",
            "",
            "",
            "out_of_memory",
        ),
        ("", "Runtime exited with error: signal: killed", "", "dlq", "out_of_memory"),
        ("MemoryError", "", "RetriesExhausted", "failure", "out_of_memory"),
        ("Runtime.ExitError", "Runtime exited with error: exit status 1", "", "", "exit_error"),
        ("Runtime.ImportModuleError", "Unable to import module 'app'", "", "", "import_error"),
        ("Runtime.HandlerNotFound", "app.handler is undefined", "", "", "import_error"),
        ("TooManyRequestsException", "Rate exceeded", "", "", "never_ran"),
        ("", "", "EventAgeExceeded", "failure", "never_ran"),
        ("", "", "ZeroReservedConcurrency", "failure", "never_ran"),
        (
            "",
            "Function not invoked. Function isconfigured with zero reserved concurrent executions",
            "",
            "dlq",
            "never_ran",
        ),
        ("ValueError", "bad order", "EventAgeExceeded", "failure", "error"),
        ("", "bad order", "", "dlq", "dlq_message"),
        ("ValueError", "bad order", "RetriesExhausted", "failure", "error"),
        ("", "", "RetryAttemptsExhausted", "stream_failure", "error"),
    ],
)
def test_it_classifies_the_built_in_failure_kinds(error_type, message, condition, kind, expected):
    result = classify(error_type, message, condition, kind)

    assert result == expected


# --- One group per bug: where it was raised ------------------------------------------------------

PYTHON_TRACE = (
    '  File "/var/runtime/bootstrap.py", line 60, in handle_event_request\n'
    '  File "/var/task/app.py", line {outer}, in handler\n'
    "    return check(event)\n"
    '  File "/var/task/orders/check.py", line {inner}, in check\n'
    "    raise ValueError(message)\n"
)


def test_it_names_the_innermost_frame_of_the_functions_own_code():
    from invocations.failures.fingerprints import own_frame

    python = PYTHON_TRACE.format(outer=12, inner=3) + (
        '  File "/var/task/.venv/lib/python3.11/site-packages/lib.py", line 9, in inner\n'
    )
    node = (
        "    at validate (/var/task/lib/validate.js:5:11)\n"
        "    at Runtime.handler (file:///var/task/index.mjs:3:9)\n"
        "    at node:internal/process/task_queues:95:5"
    )

    assert own_frame(python) == ("orders/check.py", "check")
    assert own_frame(node) == ("lib/validate.js", "validate")
    assert own_frame("    at /var/task/node_modules/x/y.js:1:2\n    at /var/task/i.js:5:1") == (
        "i.js",
        "<anonymous>",
    )
    assert own_frame('  File "/var/runtime/bootstrap.py", line 60, in handle') is None
    assert own_frame("") is None


@settings(max_examples=60, deadline=None)
@given(
    value=st.one_of(
        st.integers().map(repr),
        st.text(alphabet="abcxyz ", max_size=12).map(repr),
        st.just("None"),
        st.lists(st.integers(), max_size=3).map(repr),
    ),
    outer=st.integers(min_value=1, max_value=5000),
    inner=st.integers(min_value=1, max_value=5000),
)
def test_one_raise_is_one_group_whatever_the_value_or_the_line(value, outer, inner):
    trace = PYTHON_TRACE.format(outer=outer, inner=inner)
    reference = fingerprint(
        "production",
        "orders",
        "ValueError",
        "order must be a positive integer, got 'abc'",
        "RetriesExhausted",
        "failure",
        PYTHON_TRACE.format(outer=12, inner=3),
    )

    digest = fingerprint(
        "production",
        "orders",
        "ValueError",
        f"order must be a positive integer, got {value}",
        "RetriesExhausted",
        "failure",
        trace,
    )

    assert digest == reference


def test_another_place_or_error_type_is_another_group():
    here = PYTHON_TRACE.format(outer=12, inner=3)
    elsewhere = here.replace("in check", "in check_customer")

    one = fingerprint("production", "orders", "ValueError", "x", "", "failure", here)

    assert fingerprint("production", "orders", "ValueError", "x", "", "failure", elsewhere) != one
    assert fingerprint("production", "orders", "TypeError", "x", "", "failure", here) != one
    assert fingerprint("production", "orders", "ValueError", "x", "", "failure") != one


@pytest.mark.parametrize(
    ("message", "title"),
    [
        (
            "order must be a positive integer, got 'abc'",
            "order must be a positive integer, got …",
        ),
        ("order -42 failed at 2026-01-01T00:00:00Z", "order … failed at …"),
        ("order must be a positive integer, got [1, 2]", "order must be a positive integer, got …"),
        ("bad {'a': 1}", "bad …"),
        ("order must be a positive integer, got None", "order must be a positive integer, got …"),
        ("x" * 300, "x" * 119 + "…"),
    ],
)
def test_a_title_carries_the_message_with_its_values_elided(message, title):
    from invocations.failures.fingerprints import title_message

    assert title_message(message) == title
