"""Counting what a list holds without counting a whole table: every total a page shows is
counted up to COUNT_LIMIT + 1 rows (the index walk stops there) and read as "1000+" beyond it.
On a table of millions an exact COUNT(*) per page view would be the slowest thing the page
does, for a figure nobody reads past the first digits."""

from dataclasses import dataclass

from django.db.models import QuerySet

COUNT_LIMIT = 1000


@dataclass(frozen=True)
class Bounded:
    """A count read up to COUNT_LIMIT: `count` (at most COUNT_LIMIT) and whether there are
    `more`."""

    count: int
    more: bool

    @classmethod
    def of(cls, n: int) -> "Bounded":
        """From a raw count taken up to COUNT_LIMIT + 1 (several of them may be summed)."""
        return cls(min(n, COUNT_LIMIT), n > COUNT_LIMIT)


def count_up_to_limit(queryset: QuerySet) -> int:
    """The number of rows, counted up to COUNT_LIMIT + 1 only (one past, to know there are more)."""
    return queryset.order_by().values("pk")[: COUNT_LIMIT + 1].count()


def bounded_count(queryset: QuerySet) -> tuple[int, bool]:
    """(count, more): at most COUNT_LIMIT, and whether the true total is higher."""
    found = Bounded.of(count_up_to_limit(queryset))
    return found.count, found.more
