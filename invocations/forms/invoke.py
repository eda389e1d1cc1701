import re
from datetime import date
from typing import cast

from django import forms
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator

from invocations.invoking import payloads
from invocations.models import Invocation, PayloadTemplate

# The largest primary key a database holds (BigAutoField); a larger id in a form is an error.
MAX_ID = 2**63 - 1
# Lambda's own rules: a qualifier is a version number or an alias name; $LATEST is the default.
QUALIFIER = re.compile(r"\A[A-Za-z0-9$_-]{1,128}\Z")
qualifier_validator = RegexValidator(
    QUALIFIER,
    "A qualifier is a version number or an alias name: letters, digits, $, _ and -, "
    "at most 128 characters.",
    code="qualifier",
)
# The first day a filter may name: earlier ones fall outside what times can be converted to.
EARLIEST_DAY = date(1900, 1, 1)
LATEST_DAY = date(9999, 12, 30)


def check_json(text: str) -> None:
    """A form error with the line and column of the first JSON mistake, or what Lambda would
    refuse in JSON that Python reads (NaN, Infinity, absurd depth or length of numbers)."""
    error = payloads.json_error(text)
    if error is None:
        return
    if "reason" in error:
        raise forms.ValidationError("Not accepted as JSON: %(reason)s", code="json", params=error)
    raise forms.ValidationError(
        "Not valid JSON: %(msg)s at line %(line)s, column %(column)s.",
        code="json",
        params=error,
    )


class InvokeForm(forms.Form):
    qualifier = forms.ChoiceField(required=False, label="Version or alias")
    invocation_type = forms.ChoiceField(
        choices=Invocation.Type.choices, initial=Invocation.Type.REQUEST_RESPONSE, label="Type"
    )
    payload = forms.CharField(
        required=False,
        strip=False,
        label="Payload (JSON)",
        widget=forms.Textarea(
            attrs={"rows": 14, "class": "json", "spellcheck": "false", "id": "payload"}
        ),
    )
    confirm_name = forms.CharField(
        required=False, label="Type the function name to confirm", max_length=140
    )
    rerun_of = forms.IntegerField(
        required=False, min_value=1, max_value=MAX_ID, widget=forms.HiddenInput
    )

    def __init__(self, *args, function_name: str, environment, qualifiers=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.function_name = function_name
        self.environment = environment
        cast(forms.ChoiceField, self.fields["qualifier"]).choices = [
            (q, q) for q in (qualifiers or ["$LATEST"])
        ]
        if not environment.protected:
            del self.fields["confirm_name"]
        else:
            self.fields["confirm_name"].required = True
            self.fields["confirm_name"].widget.attrs["autocomplete"] = "off"

    def clean_payload(self) -> str:
        text = self.cleaned_data["payload"]
        if not text.strip():
            return "{}"
        check_json(text)
        return text

    def clean_confirm_name(self) -> str:
        typed = self.cleaned_data.get("confirm_name", "").strip()
        if typed != self.function_name:
            raise forms.ValidationError(
                "This environment is protected: type the function name exactly to invoke it.",
                code="confirm",
            )
        return typed

    def clean(self):
        cleaned = super().clean() or {}
        if not self.environment.allows(self.function_name):
            raise forms.ValidationError(
                "%(name)s is not among the functions environment %(env)s may invoke "
                "(allowed: %(patterns)s).",
                code="not_allowed",
                params={
                    "name": self.function_name,
                    "env": self.environment.name,
                    "patterns": ", ".join(self.environment.patterns) or "none",
                },
            )
        payload, kind = cleaned.get("payload"), cleaned.get("invocation_type")
        too_large = payloads.over_limit(payload, kind) if payload is not None and kind else None
        if too_large:
            size, limit = too_large
            if size > limit:
                self.add_error(
                    "payload",
                    forms.ValidationError(
                        "The payload is %(size)s bytes; %(kind)s invocations take at most "
                        "%(limit)s.",
                        code="too_large",
                        params={
                            "size": f"{size:,}",
                            "kind": kind,
                            "limit": payloads.megabytes(limit),
                        },
                    ),
                )
        return cleaned


class TemplateForm(forms.ModelForm):
    class Meta:
        model = PayloadTemplate
        fields = ["name", "payload", "shared"]
        labels = {"name": "Template name", "shared": "Share with the team"}

    def clean_payload(self) -> str:
        text = self.cleaned_data["payload"]
        check_json(text)
        if len(text.encode("utf-8")) > payloads.TEMPLATE_LIMIT:
            raise forms.ValidationError("A template holds at most 6 MB.", code="too_large")
        return text


class InvocationFilterForm(forms.Form):
    """The invocations page's filters; all optional, all in the URL."""

    function = forms.CharField(required=False, max_length=140)
    status = forms.ChoiceField(required=False, choices=[("", "any")] + Invocation.Status.choices)
    type = forms.ChoiceField(required=False, choices=[("", "any")] + Invocation.Type.choices)
    who = forms.CharField(required=False, max_length=150, label="Who")
    date = forms.DateField(
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        validators=[MinValueValidator(EARLIEST_DAY), MaxValueValidator(LATEST_DAY)],
    )
    q = forms.CharField(required=False, max_length=500, label="Search")
    before = forms.IntegerField(
        required=False, min_value=1, max_value=MAX_ID, widget=forms.HiddenInput
    )
