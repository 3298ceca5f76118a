"""A work's page of links: what it cites and what cites it, counted once and read a page at a time.

A popular work is cited by a hundred thousand others and a model cites a
million; its page and ``GET /api/v1/works/{id}`` must cost the same either way.
So the counts come from one aggregate query (capped at
:data:`~hitrack.domain.paging.COUNT_CAP`: "1000+"), each list is one keyset-paged
query (:mod:`hitrack.domain.paging`) that reads the linked work's id, title and
kind and the viewer's right to see it in the same row, and the retained share
is summed exactly from one grouped query (no per-citer query, no loading of
``Work.sources`` or ``Work.cited_by``). Visibility is the one rule of
:func:`hitrack.services.graph.visible_condition`: a citer the viewer may not
see is not listed (nor counted); a source they may not see is listed as "a
private work".
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from fractions import Fraction

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session, aliased

from hitrack.db.models import Citation, Creator, Work
from hitrack.domain.paging import COUNT_CAP, Page, PageRequest, page_of
from hitrack.services.graph import PRIVATE_TITLE, visible_condition

__all__ = ["LinkedWork", "WorkLinks", "work_links", "cited_among"]


@dataclass(frozen=True)
class LinkedWork:
    """One citation seen from a work's page: the work at its other end and the share."""

    citation_id: int
    work: str
    title: str
    kind: str
    share: Fraction
    credit_role: str | None
    shown: bool


@dataclass(frozen=True)
class WorkLinks:
    """A page of the work's sources and one of its (visible) citers, with their totals."""

    sources: Page[LinkedWork]
    cited_by: Page[LinkedWork]
    retained_share: Fraction


def _linked(rows: Iterable[tuple[object, ...]]) -> list[LinkedWork]:
    linked = []
    for citation_id, public_id, title, kind, num, den, role, shown in rows:
        seen = bool(shown)
        linked.append(
            LinkedWork(
                citation_id=int(citation_id),  # type: ignore[call-overload]
                work=str(public_id),
                title=str(title) if seen else PRIVATE_TITLE,
                kind=str(kind),
                share=Fraction(int(num), int(den)),  # type: ignore[call-overload]
                credit_role=None if role is None else str(role),
                shown=seen,
            )
        )
    return linked


def _page_query(
    link: type[Citation], actor: Creator | None, request: PageRequest
) -> Select[tuple[object, ...]]:
    stmt = select(
        link.id,
        Work.public_id,
        Work.title,
        Work.kind,
        link.share_num,
        link.share_den,
        link.credit_role,
        visible_condition(actor),
    )
    if request.cursor is not None:
        stmt = stmt.where(link.id > request.cursor)
    return stmt.order_by(link.id).limit(request.per_page + 1)  # type: ignore[return-value]


def work_links(
    db: Session,
    actor: Creator | None,
    work: Work,
    *,
    sources: PageRequest | None = None,
    cited_by: PageRequest | None = None,
) -> WorkLinks:
    """The pages of ``work``'s sources and citers ``actor`` asked for, in four queries in all."""
    sources = sources or PageRequest()
    cited_by = cited_by or PageRequest()
    # An alias: visible_condition's own subqueries over citations must not
    # correlate with the citation row being listed.
    link = aliased(Citation)
    # Counted up to the cap (COUNT_CAP + 1 rows at most): bounded however popular.
    n_sources = (
        select(func.count())
        .select_from(
            select(Citation.id).where(Citation.work_id == work.id).limit(COUNT_CAP + 1).subquery()
        )
        .scalar_subquery()
    )
    n_citers = (
        select(func.count())
        .select_from(
            select(link.id)
            .join(Work, Work.id == link.work_id)
            .where(link.source_id == work.id, visible_condition(actor))
            .limit(COUNT_CAP + 1)
            .subquery()
        )
        .scalar_subquery()
    )
    total_sources, total_citers = db.execute(select(n_sources, n_citers)).one()
    # Shares of one denominator add up in SQL without rounding, and a work's
    # sources use few denominators; the groups add up exactly here.
    cited = Fraction(0)
    for den, num in db.execute(
        select(Citation.share_den, func.sum(Citation.share_num))
        .where(Citation.work_id == work.id)
        .group_by(Citation.share_den)
    ):
        cited += Fraction(int(num), int(den))
    source_rows = db.execute(
        _page_query(link, actor, sources)
        .join(Work, Work.id == link.source_id)
        .where(link.work_id == work.id)
    ).all()
    citer_rows = db.execute(
        _page_query(link, actor, cited_by)
        .join(Work, Work.id == link.work_id)
        .where(link.source_id == work.id, visible_condition(actor))
    ).all()

    def cursor(item: LinkedWork) -> int:
        return item.citation_id

    return WorkLinks(
        sources=page_of(_linked(source_rows), sources, int(total_sources), cursor),
        cited_by=page_of(_linked(citer_rows), cited_by, int(total_citers), cursor),
        retained_share=1 - cited,
    )


def cited_among(db: Session, work: Work, public_ids: Iterable[str]) -> set[str]:
    """Which of the works ``public_ids`` ``work`` already cites (one query)."""
    wanted = sorted(set(public_ids))
    if not wanted:
        return set()
    return set(
        db.scalars(
            select(Work.public_id)
            .join(Citation, Citation.source_id == Work.id)
            .where(Citation.work_id == work.id, Work.public_id.in_(wanted))
        )
    )
