"""A work's neighbourhood for the graph page: the works around it a viewer may see.

The page draws a work with its ancestry and descendants. A popular work can
have a huge neighbourhood, so only the works nearest to it are shown, and
never a work the viewer may not see; the web layer turns the answer into the
page's nodes and edges.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from hitrack.db.models import Citation, Creator, Work, WorkOwner
from hitrack.services.graph import ancestry_ids, descendant_ids, visible_ids

__all__ = ["MAX_NODES", "Neighbourhood", "neighbourhood"]

MAX_NODES = 400
"""The most works one graph page shows."""


@dataclass(frozen=True)
class Neighbourhood:
    """The works shown around ``focus`` (nearest first) and the citations between them."""

    focus: Work
    works: list[Work]
    citations: list[Citation]
    truncated: bool
    """Whether visible works were left out to stay within the limit."""


def neighbourhood(
    db: Session, actor: Creator | None, focus: Work, *, max_nodes: int = MAX_NODES
) -> Neighbourhood:
    """The at most ``max_nodes`` works nearest to ``focus`` in its ancestry and descendants
    that ``actor`` may see, with their owners loaded, and the citations among them.

    Nearness is by id distance to the focus (the focus first); twice the limit
    is loaded so that private works can be left out.
    """
    ids = ancestry_ids(db, [focus.id]) | descendant_ids(db, [focus.id])
    nearest = sorted(ids, key=lambda wid: (wid != focus.id, abs(wid - focus.id)))[: 2 * max_nodes]
    works = {
        w.id: w
        for w in db.scalars(
            select(Work)
            .where(Work.id.in_(nearest))
            .options(
                selectinload(Work.owners).selectinload(WorkOwner.creator),
                selectinload(Work.sources),
            )
        )
    }
    shown_ids = visible_ids(db, actor, nearest)
    visible = [wid for wid in nearest if wid in shown_ids]
    shown = visible[:max_nodes]
    shown_set = set(shown)
    return Neighbourhood(
        focus=focus,
        works=[works[wid] for wid in shown],
        citations=[c for wid in shown for c in works[wid].sources if c.source_id in shown_set],
        truncated=len(visible) > max_nodes or len(ids) > len(nearest),
    )
