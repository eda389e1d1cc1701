"""Lambda's CloudWatch metrics (namespace ``AWS/Lambda``), written straight into moto's
CloudWatch backend in this process: an HTTP PutMetricData per invocation would cost more than
the invocation. ``GetMetricData`` and ``GetMetricStatistics`` read them like any other metric.

Each datum is published under the dimension sets Lambda uses: ``FunctionName``;
``FunctionName`` + ``Resource`` (the name, or ``name:version`` for a published version); and, for
a published version, ``FunctionName`` + ``Resource`` + ``ExecutedVersion``.

Percentile statistics (``p99``, ``p50``, ``p99.9``) are added to moto here, computed over the
raw values by nearest rank, as CloudWatch does for raw data.
"""

import logging
import math
import re
import threading

from moto.cloudwatch.models import Statistics, cloudwatch_backends

logger = logging.getLogger(__name__)

NAMESPACE = "AWS/Lambda"
PERCENTILE = re.compile(r"^p(\d{1,2}(\.\d+)?|100)$")
_installed = False
_lock = threading.Lock()


def record_invocation(
    function, *, executed_version: str, duration_ms, error: bool, throttled: bool, concurrent: int
) -> None:
    """One synchronous or asynchronous attempt, as Lambda counts it: a throttled attempt is a
    Throttle only; one that ran is an Invocation with its Duration, and an Error when the
    function failed (an unhandled error, a timeout, a crash)."""
    if throttled:
        _put(function, [("Throttles", 1, "Count")], executed_version)
        return
    data = [("Invocations", 1, "Count"), ("Errors", 1 if error else 0, "Count")]
    if duration_ms is not None:
        data.append(("Duration", round(float(duration_ms), 2), "Milliseconds"))
    data.append(("ConcurrentExecutions", concurrent, "Count"))
    _put(function, data, executed_version)


def record(function, name: str, value: float, unit: str = "Count") -> None:
    """Any other Lambda metric of ``function``: AsyncEventsReceived, AsyncEventAge,
    AsyncEventsDropped, DeadLetterErrors, DestinationDeliveryFailures, IteratorAge."""
    _put(function, [(name, value, unit)], str(function.version))


def _put(function, data, executed_version: str) -> None:
    try:
        backend = cloudwatch_backends[function.account_id][function.region]
        name = function.function_name
        published = executed_version not in ("$LATEST", "")
        resource = f"{name}:{executed_version}" if published else name
        dimension_sets = [
            [{"Name": "FunctionName", "Value": name}],
            [{"Name": "FunctionName", "Value": name}, {"Name": "Resource", "Value": resource}],
        ]
        if published:
            dimension_sets.append(
                [*dimension_sets[1], {"Name": "ExecutedVersion", "Value": executed_version}]
            )
        metric_data = [
            {"MetricName": metric, "Value": float(value), "Unit": unit, "Dimensions": dimensions}
            for metric, value, unit in data
            for dimensions in dimension_sets
        ]
        with _lock:  # moto's backend keeps one list; appends from many threads stay whole
            backend.put_metric_data(NAMESPACE, metric_data)
    except Exception:
        # Metrics are a side channel: never let them fail an invocation.
        logger.exception("could not record Lambda metrics for %s", function.function_name)


def install() -> None:
    """Teaches moto's statistics the percentiles (``p0``-``p100``) CloudWatch supports."""
    global _installed
    if _installed:
        return
    _installed = True
    original = Statistics.get_statistics_for_type

    def get_statistics_for_type(self, stat: str):
        match = PERCENTILE.match(stat)
        if match is None:
            return original(self, stat)
        return percentile(self.metric_single_values_list, float(match.group(1)))

    Statistics.get_statistics_for_type = get_statistics_for_type


def percentile(values: list[float], rank: float):
    """Nearest-rank percentile; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    index = max(math.ceil(rank / 100 * len(ordered)) - 1, 0)
    return ordered[min(index, len(ordered) - 1)]
