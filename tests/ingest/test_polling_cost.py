"""What polling costs: each watched queue's SQS requests a month at the current poll interval,
and their price, on the Queues page; the Monitor panel's GetMetricData metrics a day."""

import pytest

from invocations.ingest import polling_cost
from invocations.invoking import monitor
from invocations.models import Environment, Function
from tests import factories

MONTH = 30 * 24 * 3600


def test_a_quiet_queue_costs_one_empty_receive_per_poll_and_its_depth_reads(settings):
    settings.POLL_INTERVAL_SECONDS = 10
    settings.QUEUE_DEPTH_SECONDS = 60

    quiet = polling_cost.cost(0)
    busy = polling_cost.cost(1_000)

    assert (quiet.receives, quiet.empty_receives, quiet.deletes) == (MONTH // 10, MONTH // 10, 0)
    assert quiet.attribute_reads == MONTH // 60
    assert quiet.dollars == pytest.approx((MONTH // 10 + MONTH // 60) * 0.40 / 1e6)
    assert (busy.receives - quiet.receives, busy.deletes) == (100, 100)


def test_a_longer_poll_interval_lowers_the_cost(settings):
    settings.POLL_INTERVAL_SECONDS = 10
    often = polling_cost.cost(0)
    settings.POLL_INTERVAL_SECONDS = 60

    seldom = polling_cost.cost(0)

    assert seldom.empty_receives * 6 == often.empty_receives


@pytest.mark.django_db
def test_the_queues_page_shows_each_queues_requests_and_the_sum(client, bob, settings):
    settings.POLL_INTERVAL_SECONDS = 10
    settings.QUEUE_DEPTH_SECONDS = 60
    factories.queue(function="orders", kind="dlq")
    factories.queue(function="billing")
    client.force_login(bob)

    page = client.get("/queues/").content.decode()

    each = MONTH // 10 + MONTH // 60
    assert f'data-cost-requests="{each}"' in page
    assert f"{2 * each:,} SQS requests a month" in page
    assert f"${2 * each * 0.40 / 1e6:.2f}" in page


@pytest.mark.django_db
def test_the_monitor_panel_says_how_many_metrics_it_requests_a_day(client, bob):
    Function.objects.create(environment=Environment.objects.default(), name="hello")
    client.force_login(bob)

    page = client.get("/functions/hello/monitor/?range=1h").content.decode()

    per_day = len(monitor.METRICS) * 24 * 60  # a reading a minute while open
    assert f"Each reading requests {len(monitor.METRICS)} metrics" in page
    assert f"at most {per_day:,} metrics a day" in page
