"""List-page filters: a filter that is not understood is named on the page and ignored, and the
others still apply (never an empty page because one value was mistyped)."""


def usable(form) -> dict:
    """The cleaned values of `form`'s valid filters (Django keeps those in cleaned_data when
    another field fails); {} for a form that was not submitted."""
    if not form.is_bound:
        return {}
    form.is_valid()
    return {name: value for name, value in form.cleaned_data.items() if name not in form.errors}


def ignored(form) -> list[dict]:
    """[{"label", "value", "error"}] for each filter that was not understood."""
    if not form.is_bound or form.is_valid():
        return []
    return [
        {
            "label": form[name].label if name in form.fields else name,
            "value": form.data.get(name, ""),
            "error": " ".join(errors),
        }
        for name, errors in form.errors.items()
    ]
