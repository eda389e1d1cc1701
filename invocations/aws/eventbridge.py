"""EventBridge: which queues the rules of a bus send to (queue discovery follows a destination
bus)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from invocations.aws import clients

if TYPE_CHECKING:
    from invocations.models import Environment


def bus_queue_targets(environment: Environment, bus_arn: str) -> list[str]:
    """ARNs of the SQS queues that rules on an EventBridge bus send to (ListRules and
    ListTargetsByRule, all pages of each)."""
    events = clients.client(environment, "events")
    bus = bus_arn.rsplit("/", 1)[-1] if "/" in bus_arn else bus_arn
    rules = events.get_paginator("list_rules")
    targets = events.get_paginator("list_targets_by_rule")
    return [
        target["Arn"]
        for rule_page in clients.pages(rules.paginate(EventBusName=bus))
        for rule in rule_page.get("Rules", [])
        for target_page in clients.pages(targets.paginate(Rule=rule["Name"], EventBusName=bus))
        for target in target_page.get("Targets", [])
        if target.get("Arn", "").startswith("arn:aws:sqs:")
    ]
