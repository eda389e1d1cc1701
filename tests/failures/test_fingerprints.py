"""Which failures group together (the error fingerprint)."""

import hashlib
import json

import pytest

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
    parts = ["1", "production", "orders", "error", "ValueError", "bad order <num>"]

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
