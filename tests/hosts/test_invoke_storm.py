"""Invoke storms from the web host while a worker host is cut off, and while Redis restarts."""

import pytest

from tests.hosts import storm

pytestmark = [pytest.mark.hosts, pytest.mark.timeout(900)]


def test_a_storm_while_worker_1_is_cut_off_ends_every_invocation_once(cluster, scale, figures):
    storm.run(
        scale["invocations"],
        break_=lambda: cluster.network.cut("worker-1"),
        mend=lambda: cluster.network.mend("worker-1"),
        outage_seconds=scale["cut_seconds"],
        figures=figures,
    )
