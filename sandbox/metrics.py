"""Lambda's CloudWatch metrics (namespace ``AWS/Lambda``), written straight into moto's
CloudWatch backend in this process: an HTTP PutMetricData per invocation would cost more than
the invocation. ``GetMetricData`` and ``GetMetricStatistics`` read them like any other metric.

Each value is published once under each dimension set Lambda uses: none (the account-wide
series); ``FunctionName``; ``FunctionName`` + ``Resource`` (the name, or ``name:qualifier`` when
the caller named a version or an alias); and, when a published version ran,
``FunctionName`` + ``Resource`` + ``ExecutedVersion``.

moto's CloudWatch is taught two things CloudWatch does:

- A metric is its name, namespace and exact set of dimensions, so a query matches the datapoints
  published under exactly the dimensions it names (moto's GetMetricStatistics counted every
  datapoint whose dimensions contain the queried ones, and GetMetricData without dimensions
  added up every dimension set).
- Percentile statistics (``p99``, ``p50``, ``p99.9``), computed over the raw values by nearest
  rank, as CloudWatch does for raw data.
"""

import logging
import math
import re
import threading
from datetime import datetime, timedelta

from moto.cloudwatch.exceptions import InvalidParameterCombination, InvalidParameterValue
from moto.cloudwatch.metric_data_expression_parser import parse_expression
from moto.cloudwatch.models import CloudWatchBackend, Statistics, cloudwatch_backends
from moto.cloudwatch.responses import CloudWatchResponse
from moto.core.responses import ActionResult

from sandbox import emf

logger = logging.getLogger(__name__)

NAMESPACE = "AWS/Lambda"
PERCENTILE = re.compile(r"^p(\d{1,2}(\.\d+)?|100)$")
_installed = False
_lock = threading.Lock()


def record_invocation(
    function,
    *,
    executed_version: str,
    duration_ms,
    error: bool,
    throttled: bool,
    concurrent: int,
    invoked_arn: str | None = None,
) -> None:
    """One synchronous or asynchronous attempt, as Lambda counts it: a throttled attempt is a
    Throttle only; one that ran is an Invocation with its Duration, and an Error when the
    function failed (an unhandled error, a timeout, a crash)."""
    if throttled:
        _put(function, [("Throttles", 1, "Count")], executed_version, invoked_arn)
        return
    data = [("Invocations", 1, "Count"), ("Errors", 1 if error else 0, "Count")]
    if duration_ms is not None:
        data.append(("Duration", round(float(duration_ms), 2), "Milliseconds"))
    data.append(("ConcurrentExecutions", concurrent, "Count"))
    _put(function, data, executed_version, invoked_arn)


def record(
    function, name: str, value: float, unit: str = "Count", invoked_arn: str | None = None
) -> None:
    """Any other Lambda metric of ``function``: AsyncEventsReceived, AsyncEventAge,
    AsyncEventsDropped, DeadLetterErrors, DestinationDeliveryFailures, IteratorAge."""
    _put(function, [(name, value, unit)], str(function.version), invoked_arn)


def record_embedded(account_id: str, region: str, lines) -> None:
    """The metrics in a function's log lines written in CloudWatch's embedded metric format."""
    found = [item for line in lines for item in emf.metric_data(line)]
    if not found:
        return
    try:
        backend = cloudwatch_backends[account_id][region]
        with _lock:
            for namespace, data in found:
                if data:
                    backend.put_metric_data(namespace, data)
    except Exception:
        logger.exception("could not record embedded metrics")


def qualifier_of(invoked_arn: str | None) -> str | None:
    """The version or alias of a qualified function ARN, None for an unqualified one."""
    parts = (invoked_arn or "").split(":")
    return parts[7] if len(parts) == 8 and parts[7] else None


def dimension_sets(name: str, executed_version: str, qualifier: str | None) -> list[list[dict]]:
    """Where Lambda publishes one value: account-wide, per function, per resource (the function
    or the version or alias the caller named) and, when a published version ran, per resource
    and executed version."""
    function = {"Name": "FunctionName", "Value": name}
    if qualifier is None and executed_version not in ("$LATEST", ""):
        qualifier = executed_version  # a published version, the ARN its caller named unknown
    resource = {"Name": "Resource", "Value": f"{name}:{qualifier}" if qualifier else name}
    sets: list[list[dict]] = [[], [function], [function, resource]]
    if executed_version not in ("$LATEST", ""):
        sets.append([function, resource, {"Name": "ExecutedVersion", "Value": executed_version}])
    return sets


def _put(function, data, executed_version: str, invoked_arn: str | None) -> None:
    try:
        backend = cloudwatch_backends[function.account_id][function.region]
        sets = dimension_sets(function.function_name, executed_version, qualifier_of(invoked_arn))
        metric_data = [
            {"MetricName": metric, "Value": float(value), "Unit": unit, "Dimensions": dimensions}
            for metric, value, unit in data
            for dimensions in sets
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
    Statistics.extended_statistics = property(_extended_statistics)
    CloudWatchResponse.get_metric_statistics = _get_metric_statistics_response
    _match_exact_dimension_sets()


def _extended_statistics(self: Statistics) -> dict | None:
    """A datapoint's ``ExtendedStatistics`` (percentiles), as GetMetricStatistics answers."""
    found = {}
    for stat in self.stats:
        match = PERCENTILE.match(stat)
        if match is not None:
            found[stat] = percentile(self.metric_single_values_list, float(match.group(1)))
    return found or None


def _get_metric_statistics_response(self: CloudWatchResponse) -> ActionResult:
    """moto's GetMetricStatistics, with ``ExtendedStatistics`` (percentiles) answered too."""
    statistics = self._get_param("Statistics", [])
    extended = self._get_param("ExtendedStatistics", [])
    if not statistics and not extended:
        raise InvalidParameterCombination("Must specify either Statistics or ExtendedStatistics")
    for stat in extended:
        if PERCENTILE.match(stat) is None:
            raise InvalidParameterValue(
                f"The value {stat} for parameter ExtendedStatistics is "
                "not supported by the sandbox (percentiles pNN only)"
            )
    metric_name = self._get_param("MetricName")
    datapoints = self.cloudwatch_backend.get_metric_statistics(
        self._get_param("Namespace"),
        metric_name,
        self._get_param("StartTime"),
        self._get_param("EndTime"),
        self._get_int_param("Period"),
        statistics + extended,
        unit=self._get_param("Unit"),
        dimensions=self._get_param("Dimensions", []),
    )
    return ActionResult({"Label": metric_name, "Datapoints": datapoints})


def _dimension_key(dimensions) -> frozenset:
    """A metric's identity beyond its name: its exact set of dimensions (moto's ``Dimension``
    objects or the request's ``{"Name", "Value"}``)."""
    return frozenset(
        (d.name, d.value) if hasattr(d, "name") else (d["Name"], d.get("Value"))
        for d in dimensions or []
    )


class _ExactView:
    """The backend as one GetMetricStatistics query sees it: only the datapoints published
    under exactly the queried dimensions (moto's own filter then keeps them all)."""

    def __init__(self, backend: CloudWatchBackend, dimensions) -> None:
        self._backend = backend
        self._key = _dimension_key(dimensions)

    def get_all_metrics(self):
        return [
            md
            for md in self._backend.get_all_metrics()
            if _dimension_key(md.dimensions) == self._key
        ]


def _match_exact_dimension_sets() -> None:
    original_statistics = CloudWatchBackend.get_metric_statistics
    original_data = CloudWatchBackend.get_metric_data

    def get_metric_statistics(
        self, namespace, metric_name, start_time, end_time, period, stats, dimensions, unit=None
    ):
        view = _ExactView(self, dimensions)
        return original_statistics(
            view, namespace, metric_name, start_time, end_time, period, stats, dimensions, unit
        )

    def get_metric_data(self, queries, start_time, end_time, scan_by="TimestampAscending"):
        # moto's own code validates the times and answers Metrics Insights queries (which do
        # not depend on the others); metric and math queries are answered here.
        insights = [q for q in queries if q.get("Expression", "").startswith("SELECT")]
        insights_results = original_data(self, insights, start_time, end_time, scan_by)
        start_time = start_time.replace(microsecond=0)
        end_time = end_time.replace(microsecond=0)
        data = [md for md in self.get_all_metrics() if start_time <= md.timestamp < end_time]
        results = []
        returned = []
        for query in queries:
            if "MetricStat" in query:
                result = _metric_stat_result(query, data, start_time, end_time, scan_by)
                results.append(result)
                if query.get("ReturnData", True):
                    returned.append(result)
        for query in queries:
            expression = query.get("Expression")
            if expression and not expression.startswith("SELECT"):
                values, timestamps = parse_expression(expression, results)
                returned.append(
                    {
                        "id": query["Id"],
                        "label": query.get("Label") or query["Id"],
                        "values": values,
                        "timestamps": timestamps,
                        "status_code": "Complete",
                    }
                )
        return returned + insights_results

    CloudWatchBackend.get_metric_statistics = get_metric_statistics
    CloudWatchBackend.get_metric_data = get_metric_data


def _metric_stat_result(
    query: dict, data: list, start_time: datetime, end_time: datetime, scan_by: str
) -> dict:
    """One MetricStat query, as moto answers it but over the exact dimension set."""
    metric_stat = query["MetricStat"]
    metric = metric_stat["Metric"]
    key = _dimension_key(metric.get("Dimensions"))
    unit = metric_stat.get("Unit")
    stat = metric_stat["Stat"]
    delta = timedelta(seconds=int(metric_stat["Period"]))
    matching = [
        md
        for md in data
        if md.namespace == metric["Namespace"]
        and md.name == metric["MetricName"]
        and _dimension_key(md.dimensions) == key
        and (not unit or md.unit == unit)
    ]
    values: list = []
    timestamps: list[datetime] = []
    period_start = start_time
    while period_start <= end_time:
        period_end = period_start + delta
        in_period = [md for md in matching if period_start <= md.timestamp < period_end]
        if in_period:
            stats = Statistics([stat], period_start)
            stats.metric_data = in_period
            values.append(stats.get_statistics_for_type(stat))
            timestamps.append(stats.timestamp)
        period_start = period_end
    if scan_by == "TimestampDescending":
        values.reverse()
        timestamps.reverse()
    return {
        "id": query["Id"],
        "label": query.get("Label") or f"{metric['MetricName']} {stat}",
        "values": values,
        "timestamps": timestamps,
        "status_code": "Complete",
    }


def percentile(values: list[float], rank: float):
    """Nearest-rank percentile; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    index = max(math.ceil(rank / 100 * len(ordered)) - 1, 0)
    return ordered[min(index, len(ordered) - 1)]
