"""Beat on both worker hosts: one schedules at a time, and when its host is lost the other
takes over within two poll intervals."""

import re
import time
from datetime import UTC, datetime

import pytest

from tests.hosts import cluster as hosts

pytestmark = [pytest.mark.hosts, pytest.mark.timeout(600)]

# What beat logs (at DEBUG) each time it sends the queue poll.
SENT = re.compile(
    r"^\[(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d),(\d{3}): \w+/MainProcess\] "
    r"Scheduler: Sending due task poll-queues "
)


def _polls_sent(cluster, host: str, since: float) -> list[float]:
    """When the beat of `host` sent the queue poll, after `since` (the hosts share the machine's
    clock here)."""
    found = []
    for line in cluster.roles[host]["beat"].log_path.read_text(errors="replace").splitlines():
        match = SENT.match(line)
        if match:
            at = datetime.strptime(match.group(1), "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
            moment = at.timestamp() + int(match.group(2)) / 1000
            if moment > since:
                found.append(moment)
    return found


def _by_host(cluster, since: float) -> dict[str, list[float]]:
    return {host: _polls_sent(cluster, host, since) for host in hosts.WORKERS}


def test_one_beat_schedules_and_the_other_takes_over_when_its_host_is_lost(cluster, figures):
    interval = hosts.POLL_INTERVAL_SECONDS
    watched_from = time.time()
    sent = hosts.wait_until(
        lambda: (
            (found := _by_host(cluster, watched_from))
            and sum(map(len, found.values())) >= 4
            and found
        ),
        timeout=120,
        message="beat did not send four polls",
    )
    scheduling = [host for host, moments in sent.items() if moments]
    figures["beats scheduling while both run"] = len(scheduling)
    assert len(scheduling) == 1, sent
    active = scheduling[0]
    standby = next(host for host in hosts.WORKERS if host != active)

    lost_at = time.time()
    cluster.power_off(active)
    last_before = max(_polls_sent(cluster, active, watched_from))
    first_after = hosts.wait_until(
        lambda: (moments := _polls_sent(cluster, standby, lost_at)) and moments[0],
        timeout=120,
        message=f"the beat of {standby} never took over",
    )
    gap = first_after - last_before
    figures["host lost"] = active
    figures["seconds between the last poll of the lost beat and the first of the other"] = round(
        gap, 1
    )
    figures["poll interval (s)"] = interval

    # The lost host comes back: its beat waits, the other keeps scheduling alone.
    back_at = time.time()
    cluster.network.mend(active)
    cluster.start_worker_host(active)
    after = hosts.wait_until(
        lambda: (found := _by_host(cluster, back_at)) and len(found[standby]) >= 3 and found,
        timeout=120,
        message="beat stopped scheduling once the lost host came back",
    )
    figures["polls sent by the returned host's beat while the other schedules"] = len(after[active])
    assert gap <= 2 * interval
    assert after[active] == []
