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


def graph_view(db: Session, actor: Creator | None, focus: Work) -> dict[str, Any]:
    ids = graph_service.ancestry_ids(db, [focus.id]) | graph_service.descendant_ids(db, [focus.id])
    works = {
        w.id: w
        for w in db.scalars(
            select(Work).where(Work.id.in_(ids)).options(
                selectinload(Work.owners).selectinload(WorkOwner.creator),
                selectinload(Work.sources),
            )
        )
    }
    visible = {wid for wid, w in works.items() if graph_service.can_see(actor, w)}
    # Keep the focus and the works nearest to it when a graph is very large.
    shown = sorted(visible, key=lambda wid: (wid != focus.id, abs(wid - focus.id)))[:MAX_NODES]
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
    return {"focus": focus.public_id, "nodes": nodes, "edges": edges,
            "truncated": len(visible) > len(shown)}
