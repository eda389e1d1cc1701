"""A change of REDACT_KEYS re-redacts the stored copies in the worker, a batch at a time, with
its progress on the Workers page; pages read the new copies."""

import time

import pytest
from django.urls import reverse

from invocations.access import reredaction
from invocations.failures import grouping
from invocations.models import ExecutionRecord, FailureGroup, RedactionPass
from invocations.ops import sending
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
    titles_before = list(FailureGroup.objects.values_list("headline", flat=True))
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
    # The group's title (made redacted, with the keys of its day) is redacted again.
    assert any("ABC" in title for title in titles_before)
    titles = list(FailureGroup.objects.values_list("headline", flat=True))
    assert titles and not any("ABC" in title for title in titles)
    assert all("order_ref=[redacted]" in title for title in titles)


@pytest.mark.django_db
def test_nothing_is_done_while_the_keys_are_the_same(stored):
    first = reredaction.step()
    passes = RedactionPass.objects.count()

    again = reredaction.step()

    assert (first, again) == (False, False)
    assert RedactionPass.objects.count() == passes


@pytest.mark.broker
def test_the_task_goes_through_the_broker_and_chains_until_every_copy_is_made(celery_worker):
    records = [factories.failure_record(message=f"token=T{n}") for n in range(3)]
    ExecutionRecord.objects.update(error_message_redacted="")
    RedactionPass.objects.all().delete()  # as if the keys had never made these copies

    sending.send(sending.REREDACT)

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if RedactionPass.objects.filter(finished_at__isnull=False).exists():
            break
        time.sleep(0.1)  # the worker answers in its own time: a bounded wait for its row
    assert RedactionPass.objects.get().finished_at is not None
    assert set(
        ExecutionRecord.objects.filter(pk__in=[r.pk for r in records]).values_list(
            "error_message_redacted", flat=True
        )
    ) == {"token=[redacted]"}
