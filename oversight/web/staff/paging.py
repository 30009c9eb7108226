"""Paging of the staff lists (the queue, the deadlines, the flags, the conflict
declarations): a page number read leniently from ``?page=``, clamped to the pages there
are, and the LIMIT/OFFSET of that page. The lists count their rows with one COUNT query
and load one page of them; ``templates/staff/_pager.html`` draws the links."""

from __future__ import annotations

from dataclasses import dataclass

from flask import request

from oversight.storage import page_of

#: Rows per page of every staff list.
PAGE_SIZE = 25


@dataclass(frozen=True)
class Page:
    """Page ``number`` (1-based, within ``1..pages``) of ``total`` rows, ``size`` a page."""

    number: int
    size: int
    total: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.size))

    @property
    def offset(self) -> int:
        return (self.number - 1) * self.size

    def apply(self, query):
        """``query`` (ordered, with a unique tiebreak) limited to this page."""
        return page_of(query, self.size, self.offset)


def requested_page() -> int:
    """The ``page`` argument; anything but a positive whole number is page 1."""
    try:
        return max(1, int(request.args.get("page", "1")))
    except ValueError:
        return 1


def paginate(total: int, size: int = PAGE_SIZE, *, position: int | None = None) -> Page:
    """The requested page of ``total`` rows (or, given a row's 0-based ``position``, the
    page holding that row); a page past the end is the last one."""
    number = requested_page() if position is None else position // size + 1
    return Page(min(number, Page(1, size, total).pages), size, total)


def link_args(**filters: str) -> dict[str, str]:
    """A list's filters as its page links carry them: the ones set, nothing empty."""
    return {key: value for key, value in filters.items() if value}
