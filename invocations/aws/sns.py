"""SNS: which queues a topic delivers to (queue discovery follows a destination topic)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from invocations.aws import clients

if TYPE_CHECKING:
    from invocations.models import Environment


def topic_queue_subscriptions(environment: Environment, topic_arn: str) -> list[dict[str, Any]]:
    """SQS subscriptions of an SNS topic: [{"queue_arn", "raw_delivery"}] (ListSubscriptionsByTopic,
    all pages)."""
    paginator = clients.client(environment, "sns").get_paginator("list_subscriptions_by_topic")
    return [
        {"queue_arn": item.get("Endpoint", ""), "raw_delivery": False}
        for page in clients.pages(paginator.paginate(TopicArn=topic_arn))
        for item in page.get("Subscriptions", [])
        if item.get("Protocol") == "sqs"
    ]
