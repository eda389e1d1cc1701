"""A change of REDACT_KEYS re-redacts the stored copies in the worker, a batch at a time, with
its progress on the Workers page; pages read the new copies."""

import pytest
from django.urls import reverse

from invocations.access import reredaction
from invocations.failures import grouping
from invocations.models import ExecutionRecord, RedactionPass
from tests import factories


@pytest.fixture
def stored(db):
    records = [factories.failure_record(message=f"order_ref=ABC{n} refused") for n in range(3)]
    grouping.group_records(records)
    return records


@pytest.mark.django_db
def test_new_keys_re_redact_the_stored_copies_with_progress_on_the_workers_page(
    client, admin_user, bob, stored, settings, monkeypatch
):
    monkeypatch.setattr(reredaction, "BATCH", 2)
    settings.REDACT_KEYS = [*settings.REDACT_KEYS, "order_ref"]
    client.force_login(admin_user)

    more = reredaction.step()
    during = client.get(reverse("workers")).content.decode()
    steps = 1
    while more:
        more = reredaction.step()
        steps += 1
    after = client.get(reverse("workers")).content.decode()

    assert "re-redacting" in during and "2 of" in during
    assert "up to date" in after and "orderref" in after
    assert steps > 2
    assert set(ExecutionRecord.objects.values_list("error_message_redacted", flat=True)) == {
        "order_ref=[redacted] refused"
    }
    client.force_login(bob)
    page = client.get(f"/records/{stored[0].pk}/").content.decode()
    assert "ABC0" not in page and "order_ref=[redacted]" in page


@pytest.mark.django_db
def test_nothing_is_done_while_the_keys_are_the_same(stored):
    first = reredaction.step()
    passes = RedactionPass.objects.count()

    again = reredaction.step()

    assert (first, again) == (False, False)
    assert RedactionPass.objects.count() == passes
