"""Paged lists: what a request may ask for, and what one page of an answer holds.

A list that grows with the catalogue (a work's citers, a creator's earnings, a
statement's lines) is read one page at a time with *keyset* paging: the
request names the last row it saw (a cursor, the row's id) and the next page
starts after it, so page 5,000 costs what page 1 costs — an ``OFFSET`` would
scan every row before it. The page size is bounded, so no request reads an
unbounded number of rows.

Pure: the services turn a :class:`PageRequest` into a query.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from hitrack.domain.errors import InvalidInput

__all__ = [
    "DEFAULT_PER_PAGE",
    "MAX_PER_PAGE",
    "MAX_CURSOR",
    "Page",
    "PageRequest",
    "page_of",
    "page_request",
]

DEFAULT_PER_PAGE = 50
MAX_PER_PAGE = 200
#: Cursors are row ids, INTEGER columns: a larger one names no row, and PostgreSQL
#: would refuse to compare it ("integer out of range") instead of finding nothing.
MAX_CURSOR = 2**31 - 1
#: Totals are counted up to this many rows (then shown as "1000+"): counting
#: a hundred thousand citers exactly would cost what paging saves.
COUNT_CAP = 1_000

T = TypeVar("T")


@dataclass(frozen=True)
class PageRequest:
    """``per_page`` rows after the row ``cursor`` (``None``: from the start)."""

    per_page: int = DEFAULT_PER_PAGE
    cursor: int | None = None


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a list: its rows, how many rows the whole list has, and the next cursor.

    ``next_cursor`` is ``None`` on the last page.
    """

    items: Sequence[T]
    total: int
    next_cursor: int | None
    #: False when ``total`` is :data:`COUNT_CAP` and more rows follow.
    total_exact: bool = True

    @property
    def total_text(self) -> str:
        """``"42"``, or ``"1000+"`` past the cap."""
        return f"{self.total}" if self.total_exact else f"{self.total}+"


def _integer(value: object, name: str, low: int, high: int) -> int:
    if isinstance(value, bool):
        raise InvalidInput(f"{name}: expected a whole number from {low} to {high}")
    if isinstance(value, int):
        number = value
    elif isinstance(value, str) and value.strip().isdigit() and len(value.strip()) <= 19:
        number = int(value.strip())
    else:
        raise InvalidInput(
            f"{name}: expected a whole number from {low} to {high}, got {value!r}"[:200]
        )
    if not low <= number <= high:
        raise InvalidInput(f"{name}: {number} is outside {low} to {high}")
    return number


def page_request(
    per_page: object = None,
    cursor: object = None,
    *,
    per_page_name: str = "per_page",
    cursor_name: str = "cursor",
    default: int = DEFAULT_PER_PAGE,
    maximum: int = MAX_PER_PAGE,
) -> PageRequest:
    """The page asked for by query arguments (text or integers; empty means the default).

    Bad values are refused with the argument's name.

    Examples
    --------
    >>> page_request("20", "1234")
    PageRequest(per_page=20, cursor=1234)
    >>> page_request(None, "")
    PageRequest(per_page=50, cursor=None)
    >>> page_request("0")
    Traceback (most recent call last):
    ...
    hitrack.domain.errors.InvalidInput: per_page: 0 is outside 1 to 200
    """
    size = default if per_page in (None, "") else _integer(per_page, per_page_name, 1, maximum)
    after = None if cursor in (None, "") else _integer(cursor, cursor_name, 1, MAX_CURSOR)
    return PageRequest(size, after)


def page_of(
    rows: Sequence[T], request: PageRequest, total: int, cursor_of: Callable[[T], int]
) -> Page[T]:
    """The page from ``rows`` read with one row more than asked (it says whether more follow).

    ``cursor_of`` maps a row to its cursor (its id); ``total`` is a count made
    with :data:`COUNT_CAP` + 1 as its limit.
    """
    more = len(rows) > request.per_page
    items = list(rows[: request.per_page])
    next_cursor = cursor_of(items[-1]) if more and items else None
    return Page(items, min(total, COUNT_CAP), next_cursor, total <= COUNT_CAP)
