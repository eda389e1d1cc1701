"""The query bar is no oracle: a Viewer's search matches only what a Viewer may read (the
redacted copies), on every list and export; an Admin's search matches the raw text."""

import string

import pytest

from invocations.failures import grouping
from invocations.models import ExecutionRecord, Invocation
from tests import factories

SECRET = "S3cr3tX"


@pytest.fixture
def leaky(db):
    record = factories.failure_record(message=f"refused: token={SECRET} for ann")
    grouping.group_records([record])
    env = record.environment
    Invocation.objects.create(
        environment=env,
        function_name="orders",
        status=Invocation.Status.FUNCTION_ERROR,
        error_text=f"refused: token={SECRET} for ann",
    )
    return record


def _rows(client, query: str) -> tuple[int, ...]:
    """How many rows each list and export answers for the query."""
    counts = []
    for url in ("/records/", "/", "/invocations/"):
        body = client.get(url, {"q": query, "status": "all"}).content.decode()
        counts.append(body.count("refused: token="))
    for name in ("records", "triage", "invocations"):
        response = client.get(f"/export/{name}.csv", {"q": query})
        body = b"".join(response.streaming_content).decode()
        # Rows, not mentions: a group's row carries the message in its title and its sample.
        counts.append(sum("refused: token=" in row for row in body.splitlines()))
    return tuple(counts)


@pytest.mark.django_db
def test_a_viewer_guessing_a_token_character_by_character_learns_nothing(client, bob, leaky):
    client.force_login(bob)

    answers = {c: _rows(client, f"token={c}") for c in string.ascii_letters + string.digits}
    answers["right prefix"] = _rows(client, f"token={SECRET[:3]}")
    answers["whole"] = _rows(client, f"token={SECRET}")
    answers["the secret alone"] = _rows(client, SECRET)

    assert set(answers.values()) == {(0, 0, 0, 0, 0, 0)}
    assert _rows(client, "for ann") != (0, 0, 0, 0, 0, 0)


@pytest.mark.django_db
def test_an_admin_searches_the_raw_text(client, admin_user, leaky):
    client.force_login(admin_user)

    records_page, triage_page, _, *exported = _rows(client, f"token={SECRET[:3]}")
    assert records_page and triage_page
    assert exported == [1, 1, 1]
    assert _rows(client, "token=Q") == (0, 0, 0, 0, 0, 0)


@pytest.mark.django_db
def test_the_redacted_copy_is_what_was_stored_at_ingest(leaky):
    stored = ExecutionRecord.objects.get(pk=leaky.pk)

    assert stored.error_message_redacted == "refused: token=[redacted] for ann"
    assert SECRET in stored.error_message
