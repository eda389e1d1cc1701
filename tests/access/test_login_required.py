"""Every page needs a login but the login page and /health/. A new view that forgets the check
fails this test, because it walks the URL patterns rather than a list someone has to update."""

import uuid

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

PUBLIC = {"login", "health", "metrics", "favicon"}
SAMPLE = {"int": "1", "str": "sample", "slug": "sample", "uuid": str(uuid.uuid4()), "path": "x/y"}


def _walk(patterns, prefix=""):
    for entry in patterns:
        route = str(entry.pattern)
        if isinstance(entry, URLResolver):
            if getattr(entry, "app_name", None) == "admin":
                continue  # the admin has its own login; checked below
            yield from _walk(entry.url_patterns, prefix + route)
        elif isinstance(entry, URLPattern):
            yield entry.name, prefix + route


def _concrete(route: str) -> str:
    path = route
    while "<" in path:
        start, end = path.index("<"), path.index(">")
        converter = path[start + 1 : end].split(":")[0] if ":" in path[start:end] else "str"
        path = path[:start] + SAMPLE.get(converter, "1") + path[end + 1 :]
    return "/" + path


ROUTES = sorted(set(_walk(get_resolver().url_patterns)), key=lambda r: r[1])


def test_the_walk_finds_the_pages():
    names = {name for name, _ in ROUTES}

    assert {"triage", "functions", "invocations", "records", "queues"} <= names


@pytest.mark.parametrize(("name", "route"), [r for r in ROUTES if r[0] not in PUBLIC])
@pytest.mark.django_db
def test_it_sends_anonymous_users_to_the_login_page(client, name, route):
    path = _concrete(route)

    for method in (client.get, client.post):
        response = method(path)

        assert response.status_code == 302, f"{name} {path} answered {response.status_code}"
        assert response["Location"].startswith("/accounts/login/"), name


@pytest.mark.django_db
def test_the_admin_asks_for_its_own_login(client):
    response = client.get("/admin/")

    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


@pytest.mark.django_db
def test_the_login_page_and_health_are_public(client):
    assert client.get("/accounts/login/").status_code == 200
    assert client.get("/health/").status_code in {200, 503}  # up or degraded, or down
