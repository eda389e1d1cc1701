"""The query bar's language, shared by the triage, records and invocations lists.

`function:orders error:ValueError version:7 is:regressed assigned:me queue:orders-dlq kind:dlq`
plus free text. Parsing never fails: a field a list does not know, or a value a field does not
accept, becomes a problem the page names, and the rest of the query still applies. No Django
here, so the parser is cheap to test with any string.
"""

import re
from dataclasses import dataclass, field

MAX_QUERY = 500
MAX_VALUE = 256
FIELDS = (
    "function",
    "error",
    "version",
    "alias",
    "condition",
    "is",
    "assigned",
    "queue",
    "kind",
)
# Triage states; `is:` on the invocations list takes invocation statuses instead (its caller
# passes them).
GROUP_STATES = ("open", "acknowledged", "resolved", "ignored", "regressed", "snoozed")

# A field token is `name:value` or `name:"quoted value"`; anything else is free text. An
# unterminated quote runs to the end of the query rather than being an error.
_TOKEN = re.compile(
    r'(?P<field>[A-Za-z_]+):(?P<value>"[^"]*"?|\S*)|"(?P<quoted>[^"]*)"?|(?P<word>\S+)'
)


@dataclass(frozen=True)
class Query:
    terms: dict[str, str] = field(default_factory=dict)
    text: str = ""
    problems: tuple[str, ...] = ()

    def get(self, name: str) -> str:
        return self.terms.get(name, "")


def parse(raw: str, *, fields: tuple[str, ...], choices: dict[str, tuple[str, ...]]) -> Query:
    """The query `raw` as understood by a list that accepts `fields`; `choices` holds the values
    each closed field accepts (`is`, `kind`). A repeated field keeps its last value."""
    terms: dict[str, str] = {}
    words: list[str] = []
    problems: list[str] = []
    for match in _TOKEN.finditer((raw or "")[:MAX_QUERY]):
        if match.group("field") is None:
            words.append(match.group("quoted") if match.group("word") is None else match.group(0))
            continue
        name = match.group("field").lower()
        value = match.group("value").strip('"')[:MAX_VALUE]
        if name not in fields:
            known = ", ".join(f"{f}:" for f in fields)
            problems.append(f"{name}: is not a field here (known: {known}); ignored")
        elif not value:
            problems.append(f"{name}: needs a value; ignored")
        elif name in choices and value.lower() not in choices[name]:
            allowed = ", ".join(choices[name])
            problems.append(f"{name}:{value} is not one of {allowed}; ignored")
        else:
            terms[name] = value.lower() if name in choices else value
    text = " ".join(w for w in words if w).strip()[:MAX_VALUE]
    return Query(terms=terms, text=text, problems=tuple(problems))


def suggestions(fields: tuple[str, ...], known: dict[str, list[str]]) -> list[str]:
    """Datalist entries for the query bar: each field, then `field:value` for known values."""
    entries = [f"{name}:" for name in fields]
    for name in fields:
        entries += [f"{name}:{_quoted(value)}" for value in known.get(name, [])]
    return entries


def _quoted(value: str) -> str:
    return f'"{value}"' if re.search(r"\s", value) else value
