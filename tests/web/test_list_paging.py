"""The functions and queues pages show a page of rows and a "Next page" link after the last;
the link's cursor is input like any other (never a 500)."""

import pytest

from invocations.models import Environment, Function
from tests import factories

pytestmark = pytest.mark.django_db


def test_the_functions_page_continues_after_its_last_name(client, bob):
    env = Environment.objects.default()
    Function.objects.bulk_create(
        Function(environment=env, name=f"fn-{n:03d}", present=True) for n in range(101)
    )
    client.force_login(bob)

    first = client.get("/functions/").content.decode()
    second = client.get("/functions/?after=fn-099").content.decode()

    assert 'href="/functions/fn-099/"' in first
    assert 'href="/functions/fn-100/"' not in first
    assert 'after=fn-099" hx-get' in first
    assert 'href="/functions/fn-100/"' in second
    assert 'href="/functions/fn-099/"' not in second
    assert "Next page" not in second


def test_the_queues_page_continues_after_its_last_url(client, bob):
    for n in range(51):
        factories.queue(name=f"q-{n:03d}")
    client.force_login(bob)

    first = client.get("/queues/").content.decode()

    assert "q-049" in first and "q-050" not in first
    assert "Next page" in first
    assert "Watching these 51 queues costs" in first


@pytest.mark.parametrize("page", ["/functions/", "/queues/"])
def test_a_hostile_cursor_is_a_first_page_or_a_clear_refusal(client, bob, page):
    client.force_login(bob)

    # A cursor that names nothing: the first page. A NUL anywhere in a request is refused with
    # a 400 that says so, before any view reads it (PostgreSQL cannot compare it).
    assert client.get(page, {"after": "\U0001f600" * 3}).status_code == 200
    refused = client.get(f"{page}?after=%00x")
    assert refused.status_code == 400
    assert "NUL" in refused.content.decode()
