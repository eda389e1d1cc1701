"""An account ten times the demo (`sandbox --scale 10`: 113 functions, 220 versions and
aliases beside the demo's, 42 mappings, 74 queues) under AWS's request quotas: the inventory
sync and discovery read every function, alias and mapping there is, as the sandbox itself lists
them, without an error for anyone to see (the control-plane clients ride out the throttling),
the pages and search show them, and the sync's AWS requests are in /metrics."""

import re
from concurrent.futures import ThreadPoolExecutor

import boto3
import pytest
from botocore.config import Config
from prometheus_client.parser import text_string_to_metric_families

from invocations import aws
from invocations.access.actor import SYSTEM
from invocations.ingest import discovery
from invocations.invoking import inventory
from invocations.models import Environment, Function, InventorySync, WatchedQueue
from sandbox.testing import run_sandbox
from tests.aws.conftest import REGION

pytestmark = [pytest.mark.sandbox]

SCALE = 10


@pytest.fixture(scope="module")
def scaled_sandbox():
    with run_sandbox(retry_delays="0.2,0.4", seed=True, scale=SCALE) as running:
        yield running


@pytest.fixture
def scaled_env(db, scaled_sandbox):
    env = Environment.objects.default()
    env.endpoint_url = scaled_sandbox.endpoint_url
    env.region = REGION
    env.save()
    aws.reset_clients()
    yield env
    aws.reset_clients()


def _truth(sandbox):
    """What the sandbox holds, listed by its root with patient retries."""
    session = boto3.session.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION
    )
    config = Config(retries={"max_attempts": 10, "mode": "adaptive"})
    awslambda = session.client("lambda", endpoint_url=sandbox.endpoint_url, config=config)
    functions = [
        f["FunctionName"]
        for page in awslambda.get_paginator("list_functions").paginate()
        for f in page["Functions"]
    ]
    mappings = [
        m["UUID"]
        for page in awslambda.get_paginator("list_event_source_mappings").paginate()
        for m in page["EventSourceMappings"]
    ]
    return functions, mappings


def _every_page(client, url, what):
    """The list's pages, following "Next page" to the end."""
    pages = []
    while url:
        response = client.get(url)
        assert response.status_code == 200
        pages.append(response.content.decode())
        following = re.search(r'href="(\?[^"]*after=[^"]+)" [^>]*rel="next"', pages[-1])
        url = url.split("?")[0] + following.group(1).replace("&amp;", "&") if following else ""
        assert len(pages) < 50, f"the {what} pages do not end"
    return pages


def test_the_sync_reads_the_whole_account_through_its_quotas_and_the_pages_show_it(
    scaled_env, scaled_sandbox, client, alice, settings
):
    functions, mappings = _truth(scaled_sandbox)

    errors = inventory.sync(scaled_env)

    assert errors == []
    rows = {f.name: f for f in Function.objects.filter(environment=scaled_env, present=True)}
    assert sorted(rows) == sorted(functions)
    assert len(rows) == 13 + SCALE * 10
    fleet = [f for name, f in rows.items() if name.startswith("fleet-")]
    assert all({a["Name"] for a in f.aliases} == {"live", "previous"} for f in fleet)
    assert all(f.versions == ["$LATEST", "1", "2"] for f in fleet)
    stored = {m["uuid"] for f in rows.values() for m in f.event_source_mappings}
    assert stored == set(mappings)
    assert len(stored) == 2 + SCALE * 4
    sync = InventorySync.objects.get(environment=scaled_env)
    # ListFunctions and ListEventSourceMappings pages, four calls a function, and the retries
    # of throttled calls.
    assert sync.aws_requests >= len(functions) * 4 + 3
    assert sync.error == ""

    # The pages and search show the fleet; /metrics counts the sync's requests.
    settings.METRICS_TOKEN = "scrape"
    client.force_login(alice)
    pages = _every_page(client, "/functions/", "function")
    found = client.get("/functions/?q=fleet-0099").content.decode()
    metrics = client.get("/metrics", headers={"Authorization": "Bearer scrape"})
    assert len(pages) == 2  # a hundred functions a page
    shown = set(re.findall(r'href="/functions/([\w-]+)/"', "".join(pages)))
    assert shown == set(functions)
    assert "fleet-0099" in found
    assert "fleet-0098" not in found
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(metrics.content.decode())
        for s in family.samples
    }
    last = samples["lambda_triage_inventory_sync_last_aws_requests", (("environment", "default"),)]
    assert last == sync.aws_requests


def test_discovery_watches_every_queue_the_fleet_sends_to(scaled_env, client, bob):
    result = discovery.discover(scaled_env, actor=SYSTEM)
    client.force_login(bob)
    pages = _every_page(client, "/queues/", "queue")

    assert result.errors == []
    names = {q.name for q in WatchedQueue.objects.filter(environment=scaled_env)}
    for block in range(SCALE):
        for offset in (0, 1):
            assert f"fleet-{block * 10 + offset:04d}-on-failure" in names
        for offset in (2, 3):
            assert f"fleet-{block * 10 + offset:04d}-dlq" in names
        for letter in "AB":
            assert f"fleet-block-{block:03d}-input-{letter}-dlq" in names
            assert f"fleet-block-{block:03d}-input-{letter}" not in names
    shown = re.findall(r'<tr id="queue-\d+">\s*<td class="mono" title="([^"]+)"', "".join(pages))
    assert sorted(shown) == sorted(q.url for q in WatchedQueue.objects.all())
    assert len(pages) == 2  # fifty queues a page
    assert f"Watching these {len(shown)} queues costs" in pages[0]


def test_past_lambdas_quota_aws_refuses_and_the_dashboards_clients_get_through(
    scaled_env, scaled_sandbox
):
    session = boto3.session.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION
    )
    impatient = session.client(
        "lambda",
        endpoint_url=scaled_sandbox.endpoint_url,
        config=Config(retries={"max_attempts": 1, "mode": "standard"}, max_pool_connections=8),
    )

    def bare(_):
        try:
            impatient.list_aliases(FunctionName="fleet-0001")
        except impatient.exceptions.TooManyRequestsException as refused:
            return refused.response["Error"]["Message"]
        return "ok"

    def ours(_):
        return len(aws.list_aliases(scaled_env, "fleet-0001"))

    with ThreadPoolExecutor(8) as pool:
        refused = [answer for answer in pool.map(bare, range(60)) if answer != "ok"]
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(ours, range(60)))

    assert refused and set(refused) == {"Rate exceeded"}
    assert answers == [2] * 60  # every call got through: adaptive retries, no error
