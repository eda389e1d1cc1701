"""The admin's list filters, hardened: a filter value the database cannot compare (an id past 64
bits: SQLite raises OverflowError, PostgreSQL "out of range") is the admin's own "bad lookup"
answer (it reloads the list without the filters, `?e=1`), never a 500. NUL never reaches here
(`middleware.RefuseNulMiddleware`)."""

from django.contrib import admin
from django.contrib.admin.options import IncorrectLookupParameters
from django.db import DataError


class GuardedChangeList:
    def get_changelist_instance(self, request):
        try:
            return super().get_changelist_instance(request)  # type: ignore[misc]
        except (OverflowError, DataError, ValueError) as exc:
            raise IncorrectLookupParameters(exc) from exc


def guard_every_changelist(site: admin.AdminSite) -> None:
    """Give every registered ModelAdmin (ours and the apps') the guarded changelist."""
    for model, model_admin in list(site._registry.items()):
        if isinstance(model_admin, GuardedChangeList):
            continue
        cls = type(model_admin)
        guarded = type(f"Guarded{cls.__name__}", (GuardedChangeList, cls), {})
        site._registry[model] = guarded(model, site)
