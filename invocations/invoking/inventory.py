"""The function inventory: what Lambda says about each function, cached in Function rows.

Called by the `sync_functions` task (beat, and the "Refresh" button through refresh()). AWS
errors are kept on the environment's InventorySync row; the last good data stays.
"""

import logging
import re
import time
from typing import Any

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from invocations import aws
from invocations.access import audit
from invocations.access.actor import Actor
from invocations.failures import deploys
from invocations.models import Deploy, Environment, Function, InventorySync
from invocations.ops import sending

log = logging.getLogger(__name__)

# What Lambda allows in a function's name. A name outside it (a stand-in for AWS may list one)
# could not be put in a URL path of ours, nor invoked by name.
VALID_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")


def _details(environment: Environment, name: str) -> tuple[dict[str, Any], list[str]]:
    """The per-function calls (four); each may fail alone (an error is noted, the rest still
    count)."""
    fields, errors = {}, []
    calls = {
        "reserved_concurrency": aws.get_function_concurrency,
        "async_config": aws.get_event_invoke_config,
        "versions": aws.list_versions,
        "aliases": aws.list_aliases,
    }
    for key, call in calls.items():
        try:
            fields[key] = call(environment, name)
        except aws.AwsError as error:
            errors.append(f"{name}: {key}: {error}")
    return fields, errors


def sync(environment: Environment) -> list[str]:
    """Refresh `environment`'s Function rows. Returns the errors (also saved for the page).
    The AWS requests it made and its time are logged and kept for /metrics."""
    started = time.monotonic()
    with aws.counting() as requests:
        errors = _sync(environment)
    seconds = time.monotonic() - started
    total = sum(requests.values())
    InventorySync.objects.filter(environment=environment).update(
        aws_requests=total,
        seconds=seconds,
        aws_requests_total=F("aws_requests_total") + total,
    )
    log.info(
        "inventory of %s: %d AWS requests in %.1f s (%s)",
        environment,
        total,
        seconds,
        ", ".join(f"{name} {n}" for name, n in requests.most_common()),
    )
    return errors


def _sync(environment: Environment) -> list[str]:
    state, _ = InventorySync.objects.get_or_create(environment=environment)
    now = timezone.now()
    try:
        listed = aws.list_functions(environment)
    except aws.AwsError as error:
        InventorySync.objects.filter(pk=state.pk).update(attempted_at=now, error=str(error))
        log.warning("inventory of %s: %s", environment, error)
        return [str(error)]

    errors, rows = [], []
    # The account's mappings in one paged listing, rather than one request a function.
    mappings: dict[str, list[dict[str, Any]]] | None = None
    try:
        mappings = aws.event_source_mappings_by_function(environment)
    except aws.AwsError as error:
        errors.append(f"event source mappings: {error}")
    for config in listed:
        name = config["FunctionName"]
        if not VALID_NAME.fullmatch(name):
            errors.append(
                f"{name[:200]!r}: not a valid Lambda function name (letters, digits, - and _, "
                "at most 64): left out of the inventory"
            )
            continue
        details, failed = _details(environment, name)  # AWS calls: outside any transaction
        if mappings is not None:
            details["event_source_mappings"] = mappings.get(name, [])
        errors += failed
        rows.append((name, config, details))

    with transaction.atomic():
        existing = {f.name: f for f in Function.objects.filter(environment=environment)}
        versions_seen = deploys.known_versions(environment)
        noticed: list[Deploy] = []
        for name, config, details in rows:
            fields: dict[str, Any] = {
                "arn": config.get("FunctionArn", ""),
                "runtime": config.get("Runtime", "") or config.get("PackageType", ""),
                "handler": config.get("Handler", "") or "",
                "description": config.get("Description", "") or "",
                "memory_size": config.get("MemorySize"),
                "timeout": config.get("Timeout"),
                "last_modified": config.get("LastModified", "") or "",
                "dlq_target": (config.get("DeadLetterConfig") or {}).get("TargetArn", "") or "",
                "code_sha256": config.get("CodeSha256", "") or "",
                "environment_variable_names": sorted(
                    ((config.get("Environment") or {}).get("Variables") or {}).keys()
                ),
                "synced_at": now,
                "present": True,
            }
            if "reserved_concurrency" in details:
                fields["reserved_concurrency"] = details["reserved_concurrency"]
            if "async_config" in details:
                found = details["async_config"] or {}
                fields["async_max_retries"] = found.get("max_retries")
                fields["async_max_event_age"] = found.get("max_event_age")
                fields["on_success_destination"] = found.get("on_success") or ""
                fields["on_failure_destination"] = found.get("on_failure") or ""
            for key in ("event_source_mappings", "aliases"):
                if key in details:
                    fields[key] = details[key]
            versions = details.get("versions")
            if versions is not None:
                fields["versions"] = [item["version"] for item in versions]
                fields["version_configs"] = {
                    item["version"]: {k: v for k, v in item.items() if k != "version"}
                    for item in versions
                    if item["version"] != "$LATEST"
                }
            before = existing.get(name)
            function, _ = Function.objects.update_or_create(
                environment=environment, name=name, defaults=fields
            )
            noticed += deploys.detect(
                environment,
                deploys.baseline(before) if before else None,
                function,
                versions,
                versions_seen[name],
            )
        # ignore_conflicts: a version another refresh recorded meanwhile is not recorded twice.
        Deploy.objects.bulk_create(noticed, ignore_conflicts=True)
        names = [name for name, _, _ in rows]
        Function.objects.filter(environment=environment).exclude(name__in=names).update(
            present=False
        )
        InventorySync.objects.filter(pk=state.pk).update(
            attempted_at=now, succeeded_at=now, error="\n".join(errors)[:5000]
        )
    return errors


def refresh(environment: Environment, *, actor: Actor) -> bool:
    """The "Refresh" button: an audit event, and the sync task sent to the worker once it is
    committed. False when the broker did not take it (beat refreshes every environment anyway,
    so an outage only delays it)."""
    refused: list[Exception] = []
    with transaction.atomic(durable=True):
        audit.record(
            "functions.refresh",
            actor=actor,
            summary=f"refresh the function inventory of {environment.name}",
            details={"environment": environment.name},
        )
        sending.send_on_commit(sending.SYNC_FUNCTIONS, environment.pk, on_failure=refused.append)
    return not refused
