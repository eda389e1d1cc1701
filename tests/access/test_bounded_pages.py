"""A page that shows a stored text bounds its own work: a megabyte-long error message is cut
(the whole text a link away for who may read it raw), and the attacker's payload of 100,000
backslashes costs a Viewer's record page one linear pass, counted, not timed."""

import pytest

from invocations.access import redaction
from invocations.models import ExecutionRecord
from tests import factories

pytestmark = pytest.mark.django_db

MEGABYTE = 1_000_000


@pytest.fixture
def huge(db):
    return factories.failure_record(message="x" * MEGABYTE + " password=hunter2")


def test_a_viewer_sees_a_megabyte_error_message_cut_without_a_raw_link(client, bob, huge):
    client.force_login(bob)

    page = client.get(f"/records/{huge.pk}/").content.decode()

    assert len(page) < 200_000
    assert "Cut at 65,536" in page
    assert f"/records/{huge.pk}/text/" not in page
    assert client.get(f"/records/{huge.pk}/text/error_message/").status_code == 403


def test_an_admin_gets_a_link_to_the_whole_text_as_plain_text(client, admin_user, huge):
    client.force_login(admin_user)

    page = client.get(f"/records/{huge.pk}/").content.decode()
    whole = client.get(f"/records/{huge.pk}/text/error_message/")

    assert f"/records/{huge.pk}/text/error_message/" in page
    assert whole["Content-Type"] == "text/plain; charset=utf-8"
    assert whole.content.decode().endswith("password=hunter2")
    assert client.get(f"/records/{huge.pk}/text/raw_body/").status_code == 404


def test_the_hundred_thousand_backslashes_cost_a_viewers_page_linear_work(client, bob, monkeypatch):
    payload = {"message": "\\" * 100_000, "password": "hunter2"}
    record = factories.failure_record(payload=payload, message="\\" * 100_000)
    work = []
    scan = redaction.scan

    def counted(text, patterns=None):
        done = scan(text, patterns)
        work.append(done.steps)
        return done

    monkeypatch.setattr(redaction, "scan", counted)
    client.force_login(bob)

    page = client.get(f"/records/{record.pk}/")

    assert page.status_code == 200
    assert "hunter2" not in page.content.decode()
    per_character = 3 + len(redaction._patterns())
    assert sum(work) <= per_character * 2 * 100_000
    stored = ExecutionRecord.objects.get(pk=record.pk)
    assert stored.error_message_redacted == "\\" * 100_000
