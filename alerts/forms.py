import apprise
from django import forms

from alerts.models import Channel, Rule
from invocations.models import ExecutionRecord

KINDS = {
    ExecutionRecord.Kind.FAILURE,
    ExecutionRecord.Kind.DLQ,
    ExecutionRecord.Kind.STREAM_FAILURE,
}


def check_channel_url(url: str) -> str:
    """An http(s) address (the signed webhook) or a URL apprise knows; the error never repeats
    the URL, which may hold a secret."""
    url = url.strip()
    if url.lower().startswith(("http://", "https://")):
        forms.URLField(max_length=1000, assume_scheme="https").clean(url)
        return url
    if "://" not in url or not apprise.Apprise().add(url):
        raise forms.ValidationError(
            "Not a channel URL: use an apprise URL (slack://, msteams://, discord://, mailto://, "
            "json://, …) or an http(s):// address for the signed webhook."
        )
    return url


class ChannelForm(forms.ModelForm):
    class Meta:
        model = Channel
        fields = ["name", "url", "digest_after", "enabled"]
        widgets = {"url": forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"})}
        help_texts = {"name": "Letters, digits, - and _ (no spaces)."}
        error_messages = {
            "name": {
                "invalid": "Use only letters, digits, - and _ (no spaces): for example ops-slack."
            }
        }

    def clean_url(self):
        return check_channel_url(self.cleaned_data["url"])


class RuleForm(forms.ModelForm):
    class Meta:
        model = Rule
        fields = [
            "name",
            "enabled",
            "channels",
            "on_new_group",
            "on_regression",
            "spike_count",
            "spike_minutes",
            "backlog_minutes",
            "poll_failing_minutes",
            "dlq_depth",
            "function_patterns",
            "error_types",
            "kinds",
            "skip_acknowledged",
            "skip_assigned",
        ]
        widgets = {
            "channels": forms.CheckboxSelectMultiple,
            "function_patterns": forms.Textarea(attrs={"rows": 2}),
            "error_types": forms.Textarea(attrs={"rows": 2}),
        }
        # The name is what the command line takes, so it has a slug's letters; say it before
        # someone types a space.
        help_texts = {
            "name": "Letters, digits, - and _ (no spaces); used by manage.py alerts test NAME."
        }
        error_messages = {
            "name": {
                "invalid": "Use only letters, digits, - and _ (no spaces): for example "
                "orders-failing. The name is what manage.py alerts test NAME takes."
            }
        }

    def clean_kinds(self):
        kinds = [k.strip() for k in self.cleaned_data["kinds"].split(",") if k.strip()]
        unknown = sorted(set(kinds) - KINDS)
        if unknown:
            raise forms.ValidationError(
                f"Unknown kind {unknown[0]!r}: use failure, dlq or stream_failure."
            )
        return ",".join(kinds)

    def clean(self):
        data = super().clean()
        assert data is not None  # a ModelForm's clean() returns its cleaned_data
        if bool(data.get("spike_count")) != bool(data.get("spike_minutes")):
            raise forms.ValidationError("A spike needs both a number of occurrences and minutes.")
        conditions = [
            data.get("on_new_group"),
            data.get("on_regression"),
            data.get("spike_count"),
            data.get("backlog_minutes"),
            data.get("poll_failing_minutes"),
            data.get("dlq_depth") is not None,
        ]
        if not any(conditions):
            raise forms.ValidationError("Choose at least one condition.")
        return data
