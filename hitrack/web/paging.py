"""Paging arguments of the pages and the API: one reading of ``per_page`` and the cursors.

Pages and JSON routes that list what grows with the catalogue read the same
query arguments here (:mod:`hitrack.domain.paging` checks them; a bad value is
a 422 naming the argument) and document them with :func:`paging_params`.
"""

from __future__ import annotations

from collections.abc import Mapping

from hitrack.domain.paging import (
    DEFAULT_PER_PAGE,
    MAX_CURSOR,
    MAX_PER_PAGE,
    PageRequest,
    page_request,
)
from hitrack.web.openapi import Schema, query_param

__all__ = ["link_pages", "one_page", "paging_params"]


def link_pages(args: Mapping[str, str]) -> tuple[PageRequest, PageRequest]:
    """The pages of a work's sources and citers asked for by ``per_page``, ``sources_after``
    and ``cited_by_after``."""
    per_page = args.get("per_page")
    return (
        page_request(per_page, args.get("sources_after"), cursor_name="sources_after"),
        page_request(per_page, args.get("cited_by_after"), cursor_name="cited_by_after"),
    )


def one_page(args: Mapping[str, str], cursor: str) -> PageRequest:
    """The page asked for by ``per_page`` and the cursor argument ``cursor``."""
    return page_request(args.get("per_page"), args.get(cursor), cursor_name=cursor)


def paging_params(*cursors: tuple[str, str]) -> list[Schema]:
    """OpenAPI query parameters: ``per_page`` and each ``(cursor name, description)``."""
    return [
        query_param(
            "per_page",
            f"rows per page, 1 to {MAX_PER_PAGE} (default {DEFAULT_PER_PAGE})",
            {"type": "integer", "minimum": 1, "maximum": MAX_PER_PAGE},
        ),
        *(
            query_param(name, description, {"type": "integer", "minimum": 1, "maximum": MAX_CURSOR})
            for name, description in cursors
        ),
    ]
