"""Health and metrics a machine can read: /health/ answers 503 when down (a load balancer or an
uptime probe sees it), 200 when up or degraded, with the state in the body and a header, to HEAD
too; /metrics answers while the database is down, saying so."""

import pytest
from django.db import OperationalError
from django.db.backends.base.base import BaseDatabaseWrapper
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import free_port

pytestmark = pytest.mark.django_db

TOKEN = "scrape-token"


@pytest.fixture
def database_down(monkeypatch):
    def refuse(self, *args, **kwargs):
        raise OperationalError("connection refused")

    monkeypatch.setattr(BaseDatabaseWrapper, "cursor", refuse)


@pytest.fixture
def broker_down(settings):
    settings.CELERY_BROKER_URL = f"redis://127.0.0.1:{free_port()}/0"


def test_a_stopped_broker_is_503_with_the_state_in_the_header_and_body(client, broker_down):
    page = client.get("/health/")
    answer = client.get("/health/?format=json")
    probe = client.head("/health/")

    assert (page.status_code, answer.status_code, probe.status_code) == (503, 503, 503)
    assert page["X-Health-Status"] == probe["X-Health-Status"] == "down"
    assert answer.json()["status"] == "down"
    assert probe.content == b""


def test_up_or_degraded_is_200(client, redis_server, celery_worker):
    answer = client.get("/health/?format=json")

    assert answer.status_code == 200
    assert answer["X-Health-Status"] in {"up", "degraded"}
    assert answer.json()["status"] == answer["X-Health-Status"]


def test_a_database_that_is_down_is_503_not_500(client, broker_down, database_down):
    answer = client.get("/health/?format=json")

    assert answer.status_code == 503
    assert answer.json()["checks"]["database"]["ok"] is False


def test_metrics_answer_while_the_database_is_down(client, settings, broker_down, database_down):
    settings.METRICS_TOKEN = TOKEN

    response = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})

    assert response.status_code == 200
    found = {
        sample.name: sample.value
        for family in text_string_to_metric_families(response.content.decode())
        for sample in family.samples
    }
    assert found["lambda_triage_database_up"] == 0
    assert found["lambda_triage_broker_up"] == 0


def test_metrics_say_the_database_is_up_when_it_is(client, settings, broker_down):
    settings.METRICS_TOKEN = TOKEN

    response = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})

    assert "lambda_triage_database_up 1.0" in response.content.decode()
