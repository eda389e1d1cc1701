"""Numbers read from URLs and forms. `str.isdigit()` accepts "²" and `str.isdecimal()` accepts
"١٢" (`int()` refuses the first), and a database refuses an integer past 64 bits: an id from a
request is ASCII digits, and within what a bigint column holds, or it is no id."""

# The largest value a signed 64-bit column holds.
MAX_ID = 2**63 - 1


def as_id(text: object) -> int | None:
    """The positive id `text` spells in ASCII digits, or None."""
    raw = str(text or "").strip()
    if not raw or len(raw) > 19 or not (raw.isascii() and raw.isdigit()):
        return None
    value = int(raw)
    return value if 0 < value <= MAX_ID else None


def as_count(text: object) -> int | None:
    """A non-negative number spelt in ASCII digits (a page size, a cursor), or None."""
    raw = str(text or "").strip()
    if not raw or len(raw) > 19 or not (raw.isascii() and raw.isdigit()):
        return None
    value = int(raw)
    return value if value <= MAX_ID else None
