from typing import cast

from django import forms
from django.contrib.auth import get_user_model
from django.core.validators import RegexValidator

from invocations.forms.invoke import MAX_ID, check_json, qualifier_validator
from invocations.models import Environment, FailureGroup

ACTIVE = "active"
STATUS_FILTERS = [
    (ACTIVE, "Open and acknowledged"),
    ("open", "Open"),
    ("acknowledged", "Acknowledged"),
    ("regressed", "Regressed"),
    ("resolved", "Resolved"),
    ("ignored", "Ignored"),
    ("snoozed", "Snoozed"),
    ("all", "All"),
]
SORTS = [
    ("last_seen", "Last seen"),
    ("count", "Count"),
    ("backlog", "Oldest unreplayed"),
]


class TriageFilterForm(forms.Form):
    status = forms.ChoiceField(choices=STATUS_FILTERS, required=False)
    function = forms.CharField(required=False, max_length=140)
    assignee = forms.ChoiceField(
        choices=[("anyone", "Anyone"), ("me", "Me"), ("unassigned", "Unassigned")],
        required=False,
    )
    sort = forms.ChoiceField(choices=SORTS, required=False)
    page = forms.IntegerField(required=False, min_value=1, max_value=10_000)


BULK_ACTIONS = [
    ("acknowledged", "Acknowledge"),
    ("resolved", "Resolve"),
    ("ignored", "Ignore"),
    ("open", "Reopen"),
    ("assign_me", "Assign to me"),
    ("unassign", "Unassign"),
    ("snooze_1", "Snooze 1 hour"),
    ("snooze_24", "Snooze 24 hours"),
    ("snooze_168", "Snooze 7 days"),
]


class IdsChoiceField(forms.ModelMultipleChoiceField):
    """Choices by primary key where an id no table can hold is "not one of the choices", not an
    overflow in the database driver."""

    def clean(self, value):
        for pk in value if isinstance(value, list | tuple) else []:
            if not str(pk).isdecimal() or int(pk) > MAX_ID:
                raise forms.ValidationError(
                    self.error_messages["invalid_pk_value"],
                    code="invalid_pk_value",
                    params={"pk": pk},
                )
        return super().clean(value)


class BulkActionForm(forms.Form):
    groups = IdsChoiceField(queryset=FailureGroup.objects.none())
    action = forms.ChoiceField(choices=BULK_ACTIONS)

    def __init__(self, *args, environment, **kwargs):
        super().__init__(*args, **kwargs)
        cast(
            forms.ModelMultipleChoiceField, self.fields["groups"]
        ).queryset = FailureGroup.objects.filter(environment=environment)


class StatusForm(forms.Form):
    status = forms.ChoiceField(choices=FailureGroup.Status.choices)
    version = forms.CharField(
        required=False,
        max_length=32,
        label="Fixed in version",
        help_text="A newer failure reopens the group as regressed; older ones do not.",
    )


class AssignForm(forms.Form):
    assignee = forms.ModelChoiceField(
        queryset=get_user_model().objects.filter(is_active=True).order_by("username"),
        required=False,
        empty_label="Nobody",
    )


class SnoozeForm(forms.Form):
    hours = forms.IntegerField(required=False, min_value=1, max_value=24 * 90)
    occurrences = forms.IntegerField(required=False, min_value=1, max_value=1_000_000)

    def clean(self):
        data = super().clean() or {}
        if not data.get("hours") and not data.get("occurrences"):
            raise forms.ValidationError("Snooze for a number of hours or of occurrences.")
        return data


class CommentForm(forms.Form):
    text = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), max_length=5000)


def ids_in(text: str, limit: int = 10_000) -> list[int]:
    """The ids in a comma- or space-separated list; parts that are not an id are skipped."""
    ids = []
    for part in text.replace(" ", ",").split(","):
        part = part.strip()
        if part.isdecimal() and 0 < int(part) <= MAX_ID:
            ids.append(int(part))
    return ids[:limit]


class ReplayForm(forms.Form):
    """What to replay and where to: the dry run reads it from GET, the confirm from POST."""

    records = forms.CharField(required=False, widget=forms.HiddenInput)
    group = forms.IntegerField(
        required=False, min_value=1, max_value=MAX_ID, widget=forms.HiddenInput
    )
    # "All N matching" on the Records list: its filters (a query string) stand for the records.
    all = forms.BooleanField(required=False, widget=forms.HiddenInput)
    matching = forms.CharField(required=False, max_length=4000, widget=forms.HiddenInput)
    # The records a stopped replay batch did not reach.
    rest_of = forms.IntegerField(
        required=False, min_value=1, max_value=MAX_ID, widget=forms.HiddenInput
    )
    environment = forms.ModelChoiceField(queryset=Environment.objects.all(), required=False)
    function = forms.CharField(
        required=False,
        max_length=140,
        help_text="Empty: the function that failed.",
        validators=[
            RegexValidator(
                r"\A[A-Za-z0-9_.:$-]+\Z",
                "A function name or ARN: letters, digits and - _ . : $ only.",
                code="function",
            )
        ],
    )
    qualifier = forms.CharField(required=False, max_length=128, validators=[qualifier_validator])
    override = forms.BooleanField(
        required=False, label="Also replay records already replayed with success"
    )
    payload = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 8, "class": "json", "spellcheck": "false"}),
        label="Edited payload (one record only)",
    )
    confirm_name = forms.CharField(
        required=False, max_length=140, label="Type the function name to confirm"
    )

    def record_ids(self) -> list[int]:
        return ids_in(self.cleaned_data.get("records") or "")

    def clean_payload(self):
        payload = self.cleaned_data.get("payload", "")
        if payload.strip():
            check_json(payload)
        return payload


class RedriveForm(forms.Form):
    records = forms.CharField(widget=forms.HiddenInput)
    queue_url = forms.URLField(max_length=500, label="Queue URL", assume_scheme="https")
    confirm_name = forms.CharField(required=False, max_length=140)
