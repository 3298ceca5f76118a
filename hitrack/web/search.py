"""Search and browsing: the page, ``GET /api/v1/search`` and the source picker's suggestions."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify, render_template, request, url_for

from hitrack.services import search
from hitrack.web.context import db
from hitrack.web.openapi import object_schema, operation, query_param, ref, register_paths

bp = Blueprint("search", __name__)
api = Blueprint("search", __name__)  # nested under /api/v1 by hitrack.web.api_v1


def _query() -> search.SearchQuery:
    args = request.args
    return search.parse_query(
        args.get("q", ""),
        args.getlist("kind"),
        args.get("media"),
        args.get("sort"),
        args.get("page"),
    )


def hit_url(hit: search.Hit) -> str:
    """Where a result's page is."""
    if hit.entity == "creator":
        return url_for("profiles.show", handle=hit.ref)
    if hit.entity == "call":
        return url_for("calls.show", public_id=hit.ref)
    if hit.kind == "production":
        return url_for("productions.show", public_id=hit.ref)
    if hit.kind == "model":
        return url_for("models.show", public_id=hit.ref)
    return url_for("pages.work", public_id=hit.ref)


def _page_url(query: search.SearchQuery, page: int) -> str:
    return url_for(
        "search.page",
        q=query.words or None,
        kind=list(query.kinds) or None,
        media=query.media,
        sort=query.sort if query.sort != "relevance" else None,
        page=page,
    )


@bp.route("/search")
def page() -> str:
    query = _query()
    results = search.search(db(), query)
    return render_template(
        "search/index.html",
        results=results,
        query=query,
        hit_url=hit_url,
        page_url=_page_url,
        kinds=search.SEARCH_KINDS,
        media_kinds=search.MEDIA_KINDS,
        sorts=search.SORTS,
    )


@bp.route("/search/works.json")
def suggest() -> Response:
    """The source picker: works by title prefix, as ``[{id, title, by, label}]``."""
    hits = search.suggest_works(db(), request.args.get("q", ""))
    return jsonify(
        [
            {"id": h.ref, "title": h.title, "by": h.byline, "label": f"{h.title} ({h.ref})"}
            for h in hits
        ]
    )


def hit_json(hit: search.Hit) -> dict[str, Any]:
    return {
        "type": hit.entity,
        "kind": hit.kind,
        "id": hit.ref,
        "title": hit.title,
        "by": hit.byline,
        "snippet": hit.snippet,
        "media_kind": hit.media_kind,
        "remixes": hit.remixes,
        "created_at": hit.created_at.isoformat(),
        "open_until": hit.open_until.isoformat() if hit.open_until else None,
        "url": hit_url(hit),
    }


@api.get("/search")
def api_search() -> Response:
    query = _query()
    results = search.search(db(), query)
    return jsonify(
        {
            "q": query.words,
            "page": query.page,
            "has_next": results.has_next,
            "results": [hit_json(h) for h in results.hits],
        }
    )


register_paths(
    {
        "/api/v1/search": {
            "get": operation(
                "Search works, productions, models, creators and open calls",
                tag="search",
                operation_id="search",
                auth=False,
                params=[
                    query_param(
                        "q",
                        "words in titles, descriptions, names and credits",
                        {"type": "string", "maxLength": 200, "pattern": "^[^\\u0000]*$"},
                    ),
                    query_param(
                        "kind",
                        "only these kinds (repeatable)",
                        {"type": "array", "items": {"enum": list(search.SEARCH_KINDS)}},
                    ),
                    query_param("media", "only this media", {"enum": list(search.MEDIA_KINDS)}),
                    query_param("sort", "the order", {"enum": list(search.SORTS)}),
                    query_param(
                        "page",
                        f"the page, {search.PAGE_SIZE} results each",
                        {"type": "integer", "minimum": 1, "maximum": search.MAX_PAGE},
                    ),
                ],
                response=ref("SearchResults"),
                errors=(422,),
            )
        }
    },
    {
        "SearchResults": object_schema(
            ["q", "page", "has_next", "results"],
            q={"type": "string"},
            page={"type": "integer"},
            has_next={"type": "boolean"},
            results={
                "type": "array",
                "items": object_schema(
                    ["type", "kind", "id", "title", "url"],
                    closed=False,
                    type={"enum": ["work", "creator", "call"]},
                    kind={"enum": list(search.SEARCH_KINDS)},
                    id={"type": "string"},
                    title={"type": "string"},
                    url={"type": "string"},
                ),
            },
        )
    },
)
