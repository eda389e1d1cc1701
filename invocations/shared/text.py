"""The one rule for text from outside (a queue message, a function's answer, a form) on its way
into the database and onto a page.

PostgreSQL refuses two things in a text or jsonb column: the NUL character and text that UTF-8
cannot encode (a lone surrogate, which JSON's "\\ud800" escape produces). SQLite takes both,
so without one rule the two databases would store different things. The rule:

- NUL is removed (it carries nothing a person reads, and SQS refuses it in a body anyway);
- a lone surrogate is kept visible as its escape (`\\ud800`), so the text still says what came;
- text is cut to its column's limit with "…" when a limit is given.
"""


def unstorable(text: str) -> bool:
    """Would PostgreSQL refuse `text` as it is (a NUL, or a lone surrogate)?"""
    if "\x00" in text:
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def printable(text: str) -> str:
    """`text` that UTF-8 can encode: a lone surrogate is shown as its escape, since a page that
    cannot be encoded is a 500 for everyone who opens it."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text


def storable(text: str, limit: int | None = None) -> str:
    """`text` as every database accepts it (the rule above), at most `limit` characters."""
    if unstorable(text):
        text = printable(text.replace("\x00", ""))
    if limit is not None and len(text) > limit:
        text = text[: limit - 1] + "…"
    return text
