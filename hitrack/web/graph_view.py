"""The data behind a graph page: a work's ancestry and descendants, as nodes and edges."""

from __future__ import annotations

from typing import Any

from flask import url_for
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from hitrack.db.models import Creator, Work, WorkOwner
from hitrack.domain.shares import format_share
from hitrack.services import graph as graph_service
from hitrack.web.filters import percent

MAX_NODES = 400


def graph_view(
    db: Session, actor: Creator | None, focus: Work, *, max_nodes: int = MAX_NODES
) -> dict[str, Any]:
    ids = graph_service.ancestry_ids(db, [focus.id]) | graph_service.descendant_ids(db, [focus.id])
    # A popular work can have a huge neighbourhood: only the works nearest to the
    # focus are loaded (twice the limit, so private ones can be left out).
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
    shown_ids = graph_service.visible_ids(db, actor, nearest)
    visible = [wid for wid in nearest if wid in shown_ids]
    shown = visible[:max_nodes]
    shown_set = set(shown)
    nodes = [
        {
            "id": works[wid].public_id,
            "title": works[wid].title,
            "kind": works[wid].kind,
            "owners": [o.creator.display_name for o in works[wid].owners],
            "url": url_for("pages.work", public_id=works[wid].public_id),
        }
        for wid in shown
    ]
    edges = [
        {
            "source": works[c.work_id].public_id,
            "target": works[c.source_id].public_id,
            "share": format_share(c.share),
            "label": percent(c.share),
        }
        for wid in shown
        for c in works[wid].sources
        if c.source_id in shown_set
    ]
    return {
        "focus": focus.public_id,
        "nodes": nodes,
        "edges": edges,
        "truncated": len(visible) > max_nodes or len(ids) > len(nearest),
    }
