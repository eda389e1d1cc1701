"""Numbers in sentences, said right: "1 record", "2 records"."""


def count(n: int, singular: str, plural: str | None = None) -> str:
    return f"{n} {singular if n == 1 else (plural or singular + 's')}"
