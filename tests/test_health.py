import pytest
from django.test import override_settings

from tests.conftest import free_port


@pytest.mark.django_db
def test_it_reports_a_stopped_broker_as_down_on_a_200_page(client):
    unused = f"redis://127.0.0.1:{free_port()}/0"

    with override_settings(CELERY_BROKER_URL=unused):
        response = client.get("/health/?format=json")
        page = client.get("/health/")

    assert response.status_code == 200
    checks = response.json()["checks"]
    assert checks["broker"]["ok"] is False
    assert "Redis unreachable" in checks["broker"]["reason"]
    assert checks["workers"]["ok"] is False
    assert checks["database"]["ok"] is True
    assert response.json()["ok"] is False
    assert page.status_code == 200
    assert b"something is down" in page.content


@pytest.mark.django_db
def test_it_reports_the_broker_up_when_redis_answers(client, redis_server):
    response = client.get("/health/?format=json")

    assert response.json()["checks"]["broker"] == {"ok": True, "reason": "Redis answering"}


@pytest.mark.django_db
def test_it_reports_an_unreachable_aws_endpoint_as_down(client):
    from invocations.models import Environment

    env = Environment.objects.default()
    env.endpoint_url = f"http://127.0.0.1:{free_port()}"
    env.save()

    checks = client.get("/health/?format=json").json()["checks"]

    assert checks["aws"]["ok"] is False
    assert "Lambda API call failed" in checks["aws"]["reason"]
    assert env.endpoint_url not in checks["aws"]["reason"]
