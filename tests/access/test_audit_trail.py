import pytest
from django.db import DatabaseError, connection, transaction

from invocations.models import AuditEvent
from invocations.models.audit import AppendOnlyError


@pytest.fixture
def event(db):
    return AuditEvent.objects.create(action="invoke", summary="invoked hello")


def test_it_refuses_to_change_a_saved_event(event):
    event.summary = "nothing happened"

    with pytest.raises(AppendOnlyError):
        event.save()

    assert AuditEvent.objects.get(pk=event.pk).summary == "invoked hello"


def test_it_refuses_to_delete_an_event(event):
    with pytest.raises(AppendOnlyError):
        event.delete()
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.all().delete()
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.filter(pk=event.pk).update(summary="rewritten")

    assert AuditEvent.objects.count() == 1


def test_the_database_itself_refuses_raw_updates_on_postgresql(event):
    if connection.vendor != "postgresql":
        pytest.skip("the trigger exists on PostgreSQL only")

    with (
        pytest.raises(DatabaseError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute("UPDATE invocations_auditevent SET summary = 'x'")

    assert AuditEvent.objects.get(pk=event.pk).summary == "invoked hello"
