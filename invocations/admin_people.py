"""People in the admin: deactivated when they leave, never deleted.

Deleting an account would leave its audit events pointing at nobody and, with the trail
append-only, has nothing to gain: unticking Active stops the login and keeps the history."""

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin
from django.contrib.auth.models import User

LEAVING = (
    "When someone leaves, untick Active to deactivate the account: accounts are not deleted, "
    "so that the audit trail keeps naming who did what."
)


class PeopleAdmin(UserAdmin):
    def get_fieldsets(self, request, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        if obj is None:
            return fieldsets
        return [
            (name, {**options, "description": LEAVING} if name == "Permissions" else options)
            for name, options in fieldsets
        ]

    def has_delete_permission(self, request, obj=None):
        return False


admin.site.unregister(User)
admin.site.register(User, PeopleAdmin)
