"""The graph page's data: a work's neighbourhood as nodes and edges (the service chooses them)."""

from __future__ import annotations

from typing import Any

from flask import url_for
from sqlalchemy.orm import Session

from hitrack.db.models import Creator, Work
from hitrack.domain.shares import format_percent, format_share
from hitrack.services.graph_view import MAX_NODES, neighbourhood


def graph_view(
    db: Session, actor: Creator | None, focus: Work, *, max_nodes: int = MAX_NODES
) -> dict[str, Any]:
    shown = neighbourhood(db, actor, focus, max_nodes=max_nodes)
    public_ids = {w.id: w.public_id for w in shown.works}
    return {
        "focus": focus.public_id,
        "nodes": [
            {
                "id": w.public_id,
                "title": w.title,
                "kind": w.kind,
                "owners": [o.creator.display_name for o in w.owners],
                "url": url_for("pages.work", public_id=w.public_id),
            }
            for w in shown.works
        ],
        "edges": [
            {
                "source": public_ids[c.work_id],
                "target": public_ids[c.source_id],
                "share": format_share(c.share),
                "label": format_percent(c.share),
            }
            for c in shown.citations
        ],
        "truncated": shown.truncated,
    }
