"""What watching a queue costs in SQS requests a month, at the current poll interval.

SQS bills every API request, an empty ReceiveMessage included: $0.40 per million requests to a
standard queue after the account's first million a month (https://aws.amazon.com/sqs/pricing/,
"Standard Queue", first 100 billion requests a month; each 64 KB of a request counts as one).

Per watched queue and month (30 days), the dashboard makes:

- one receive per poll (beat polls every POLL_INTERVAL_SECONDS), empty when nothing waits: a
  quiet queue costs its polls, busy or not;
- one more receive per ten messages it stores (a receive takes up to ten), and one
  DeleteMessageBatch per ten;
- one GetQueueAttributes per depth measurement (every QUEUE_DEPTH_SECONDS).

The messages a month are estimated from the records the queue stored over the last week.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db.models import Count, Q
from django.utils import timezone

from invocations.models import ExecutionRecord, WatchedQueue

SQS_PRICE_PER_MILLION_REQUESTS = 0.40  # USD, standard queues, https://aws.amazon.com/sqs/pricing/
MONTH_SECONDS = 30 * 24 * 3600
SAMPLE = timedelta(days=7)


@dataclass(frozen=True)
class QueueCost:
    receives: int  # every ReceiveMessage, the empty ones included
    empty_receives: int
    deletes: int  # DeleteMessageBatch requests
    attribute_reads: int  # GetQueueAttributes for the depth
    messages: int  # estimated messages a month

    @property
    def requests(self) -> int:
        return self.receives + self.deletes + self.attribute_reads

    @property
    def dollars(self) -> float:
        return self.requests * SQS_PRICE_PER_MILLION_REQUESTS / 1_000_000


def cost(messages_per_month: int, enabled: bool = True) -> QueueCost:
    """The requests a month of one watched queue that receives `messages_per_month`."""
    if not enabled:
        return QueueCost(0, 0, 0, 0, messages_per_month)
    polls = MONTH_SECONDS // settings.POLL_INTERVAL_SECONDS
    batches = math.ceil(messages_per_month / 10)
    return QueueCost(
        receives=polls + batches,
        empty_receives=polls,
        deletes=batches,
        attribute_reads=MONTH_SECONDS // settings.QUEUE_DEPTH_SECONDS,
        messages=messages_per_month,
    )


def for_queues(queues) -> dict[int, QueueCost]:
    """{queue pk: its cost} for the Queues page, in one query for the message estimates."""
    queues = list(queues)
    since = timezone.now() - SAMPLE
    # Records are numbered as they arrive: the first of the week (one seek in the received_at
    # index) bounds each queue's count to its (queue, -id) index.
    first = (
        ExecutionRecord.objects.filter(received_at__gte=since)
        .order_by("received_at")
        .values_list("id", flat=True)
        .first()
    )
    recent: dict[int, int] = {}
    if first is not None:
        counted = WatchedQueue.objects.filter(pk__in=[q.pk for q in queues]).annotate(
            recent=Count("records", filter=Q(records__id__gte=first))
        )
        recent = dict(counted.values_list("pk", "recent"))
    scale = MONTH_SECONDS / SAMPLE.total_seconds()
    return {q.pk: cost(round(recent.get(q.pk, 0) * scale), q.enabled) for q in queues}


def total(costs) -> QueueCost:
    """The costs of several queues added up."""
    costs = list(costs)
    return QueueCost(
        receives=sum(c.receives for c in costs),
        empty_receives=sum(c.empty_receives for c in costs),
        deletes=sum(c.deletes for c in costs),
        attribute_reads=sum(c.attribute_reads for c in costs),
        messages=sum(c.messages for c in costs),
    )
