"""CloudWatch embedded metric format (EMF): a function's log line that is a JSON object with an
``_aws.CloudWatchMetrics`` directive becomes CloudWatch metrics, as Lambda's logs do on AWS
("Specification: Embedded metric format"). Powertools' Metrics and AWS's EMF libraries print such
lines.

Each directive names a namespace, dimension sets (lists of member names whose values are at the
top level) and metrics (names whose value, a number or a list of up to 100 numbers, is at the
top level). Every metric is stored once per dimension set, at ``_aws.Timestamp``. A line that is
not valid EMF stays a log line and yields no metric, as on AWS.
"""

import json
import math
from datetime import UTC, datetime

MAX_VALUES = 100
MAX_DIMENSIONS = 30


def metric_data(line: str) -> list[tuple[str, list[dict]]]:
    """[(namespace, PutMetricData datums)] from one log line; [] unless it is valid EMF."""
    text = line.strip()
    if not text.startswith("{") or '"_aws"' not in text:
        return []
    try:
        document = json.loads(text)
        return _directives(document)
    except (ValueError, TypeError, KeyError, AttributeError):
        return []


def _directives(document: dict) -> list[tuple[str, list[dict]]]:
    metadata = document["_aws"]
    # Naive UTC, as moto keeps every other datapoint's time.
    timestamp = datetime.fromtimestamp(int(metadata["Timestamp"]) / 1000, UTC).replace(tzinfo=None)
    found = []
    for directive in metadata["CloudWatchMetrics"]:
        namespace = directive["Namespace"]
        if not isinstance(namespace, str) or not namespace:
            return []
        dimension_sets = directive["Dimensions"]
        data = []
        for metric in directive["Metrics"]:
            name = metric["Name"]
            values = _values(document[name])
            unit = metric.get("Unit", "None")
            for dimension_names in dimension_sets:
                dimensions = _dimensions(document, dimension_names)
                data.extend(
                    {
                        "MetricName": name,
                        "Value": value,
                        "Unit": unit,
                        "Dimensions": dimensions,
                        "Timestamp": timestamp,
                    }
                    for value in values
                )
        found.append((namespace, data))
    return found


def _values(raw) -> list[float]:
    values = raw if isinstance(raw, list) else [raw]
    if not values or len(values) > MAX_VALUES:
        raise ValueError("an EMF metric has 1 to 100 values")
    for value in values:
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
        ):
            raise ValueError("an EMF metric value is a number")
    return [float(value) for value in values]


def _dimensions(document: dict, names: list) -> list[dict]:
    if len(names) > MAX_DIMENSIONS:
        raise ValueError("an EMF dimension set has at most 30 dimensions")
    dimensions = []
    for name in names:
        value = document[name]
        if not isinstance(value, str):
            raise ValueError("an EMF dimension value is a string")
        dimensions.append({"Name": name, "Value": value})
    return dimensions
