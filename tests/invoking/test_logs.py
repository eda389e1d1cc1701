"""Reading the 4 KB log tail: START / END / REPORT lines, figures, and a tail cut mid-line."""

from invocations.invoking import logs

REQUEST_ID = "6f1c2d3e-0000-4000-8000-0123456789ab"
REPORT = (
    f"REPORT RequestId: {REQUEST_ID}\tDuration: 12.34 ms\tBilled Duration: 13 ms\t"
    "Memory Size: 128 MB\tMax Memory Used: 40 MB\tInit Duration: 150.25 ms\t"
)


def test_it_reads_the_report_figures_of_a_cold_start():
    tail = (
        f"START RequestId: {REQUEST_ID} Version: $LATEST\n"
        "saying hello to world\n"
        f"END RequestId: {REQUEST_ID}\n"
        f"{REPORT}\n"
    )

    parsed = logs.parse_tail(tail)

    assert parsed.report == {
        "duration_ms": 12.34,
        "billed_duration_ms": 13,
        "memory_size_mb": 128,
        "max_memory_used_mb": 40,
        "init_duration_ms": 150.25,
    }
    assert parsed.request_id == REQUEST_ID
    assert parsed.version == "$LATEST"
    assert parsed.cut is False
    assert [line.kind for line in parsed.lines] == ["meta", "", "meta", "meta"]


def test_it_has_no_init_duration_on_a_warm_start():
    line = f"REPORT RequestId: {REQUEST_ID}\tDuration: 1.00 ms\tBilled Duration: 1 ms\t"
    line += "Memory Size: 128 MB\tMax Memory Used: 41 MB"

    figures = logs.parse_report(line)

    assert "init_duration_ms" not in figures
    assert figures["max_memory_used_mb"] == 41


def test_it_notices_a_tail_that_starts_in_the_middle_of_a_line():
    body = "".join(f"chatty line {n:04d}: " + "lorem ipsum " * 4 + "\n" for n in range(1, 200))
    full = f"START RequestId: {REQUEST_ID} Version: $LATEST\n{body}END RequestId: {REQUEST_ID}\n"
    full += REPORT + "\n"
    tail = full.encode()[-4096:].decode()

    parsed = logs.parse_tail(tail)

    assert parsed.cut is True
    assert parsed.lines[0].kind == "partial"
    assert not parsed.lines[0].text.startswith("chatty line")
    assert parsed.report["duration_ms"] == 12.34
    assert parsed.report["init_duration_ms"] == 150.25


def test_it_never_reads_figures_from_a_cut_report_fragment_at_the_start():
    head = "REPORT RequestId: earlier\tDuration: 99 ms\tBilled Duration: 100 ms\n"
    full = "START RequestId: x\n" + head + "x" * 4060 + "\n"
    tail = full.encode()[-4096:].decode()

    parsed = logs.parse_tail(tail)

    assert parsed.cut is True
    assert parsed.report == {}


def test_a_short_tail_that_starts_with_start_is_not_cut():
    parsed = logs.parse_tail(f"START RequestId: {REQUEST_ID} Version: 3\nhello\n")

    assert parsed.cut is False
    assert parsed.version == "3"


def test_it_sets_error_lines_apart():
    tail = (
        "[ERROR] ValueError: order must be a positive integer\n"
        "Traceback (most recent call last):\n"
        '  File "/var/task/lambda_function.py", line 7, in lambda_handler\n'
        "2026-01-02T12:00:00.000Z 6f1c Task timed out after 2.00 seconds\n"
        "processing order 42\n"
    )

    kinds = [line.kind for line in logs.parse_tail(tail).lines]

    assert kinds == ["error", "error", "error", "error", ""]


def test_it_splits_cloudwatch_events_into_lines():
    lines = logs.lines_of([f"START RequestId: {REQUEST_ID}\n", "one\ntwo\n"])

    assert [(line.text, line.kind) for line in lines] == [
        (f"START RequestId: {REQUEST_ID}", "meta"),
        ("one", ""),
        ("two", ""),
    ]
