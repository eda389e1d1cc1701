import pytest

pytestmark = pytest.mark.hosts


def test_every_host_answers_and_health_is_up(cluster):
    health = cluster.health()
    print(health)
    assert health["status"] in {"up", "degraded"}
