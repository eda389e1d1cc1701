"""CloudWatch metrics: the series behind a function's monitor panel."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from invocations.aws import clients

if TYPE_CHECKING:
    from mypy_boto3_cloudwatch.type_defs import MetricDataQueryTypeDef

    from invocations.models import Environment


@dataclass(frozen=True)
class MetricQuery:
    """One series of GetMetricData: `stat` is Sum, Maximum, Average or a percentile (p99)."""

    id: str
    namespace: str
    metric: str
    dimensions: tuple[tuple[str, str], ...]
    stat: str
    period: int


def get_metric_data(
    environment: Environment, queries: list[MetricQuery], start: datetime, end: datetime
) -> dict[str, list[tuple[datetime, float]]]:
    """GetMetricData for `queries` between `start` and `end`: {query id: [(time, value)]},
    oldest first, all pages."""
    requests: list[MetricDataQueryTypeDef] = [
        {
            "Id": query.id,
            "MetricStat": {
                "Metric": {
                    "Namespace": query.namespace,
                    "MetricName": query.metric,
                    "Dimensions": [{"Name": k, "Value": v} for k, v in query.dimensions],
                },
                "Period": query.period,
                "Stat": query.stat,
            },
            "ReturnData": True,
        }
        for query in queries
    ]
    paginator = clients.client(environment, "cloudwatch").get_paginator("get_metric_data")
    pages = paginator.paginate(
        MetricDataQueries=requests, StartTime=start, EndTime=end, ScanBy="TimestampAscending"
    )
    series: dict[str, list[tuple[datetime, float]]] = {query.id: [] for query in queries}
    for page in clients.pages(pages):
        # A series longer than a page continues on the next page under the same Id.
        for result in page.get("MetricDataResults", []):
            points = zip(result.get("Timestamps", []), result.get("Values", []), strict=False)
            series.setdefault(result["Id"], []).extend(points)
    return {key: sorted(points) for key, points in series.items()}
