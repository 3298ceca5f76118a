"""The JSON API under ``/api/v1``: it parses, calls one service, serialises.

Scripts authenticate with ``Authorization: Bearer``; a browser session may use
the API too, and then must send its CSRF token in ``X-CSRFToken``
(:mod:`hitrack.web.guards` checks it, and bounds and checks every body).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import wraps
from typing import Any, TypeVar

from flask import Blueprint, Response, jsonify, request, url_for

from hitrack.db.models import Creator, Work
from hitrack.domain.errors import AuthenticationFailed, InvalidInput
from hitrack.domain.shares import format_share, loads_json
from hitrack.services import accounts, payouts, records
from hitrack.services import graph as graph_service
from hitrack.web.context import credentials_reader, db, settings, storage
from hitrack.web.guards import takes_upload
from hitrack.web.media import media_response
from hitrack.web.openapi import openapi_document

# ``me`` stays importable from here for the revenue API module.
from hitrack.web.signed_in import actor, is_signed_in
from hitrack.web.signed_in import me as me

bp = Blueprint("api", __name__, url_prefix="/api/v1")
F = TypeVar("F", bound=Callable[..., Any])


def body() -> dict[str, Any]:
    """The JSON object in the request; numbers are read through their decimal text."""
    data = loads_json(request.get_data(as_text=True) or "null")
    if not isinstance(data, dict):
        raise InvalidInput("the request body must be a JSON object")
    return data


def auth_required(view: F) -> F:
    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if not is_signed_in():
            raise AuthenticationFailed("sign in or send Authorization: Bearer <token>")
        return view(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def creator_json(creator: Creator, *, private: bool = False) -> dict[str, Any]:
    data: dict[str, Any] = {"id": creator.handle, "display_name": creator.display_name}
    if private:
        data.update(
            email=creator.email,
            roles=["creator"] + (["admin"] if creator.is_admin else []),
            created_at=creator.created_at.isoformat(),
        )
    return data


def work_json(work: Work, viewer: Creator | None) -> dict[str, Any]:
    sources = {c.source_id for c in work.sources}
    shown = graph_service.visible_ids(db(), viewer, sources | {c.work_id for c in work.cited_by})
    data: dict[str, Any] = {
        "id": work.public_id,
        "kind": work.kind,
        "title": work.title,
        "description": work.description,
        "visibility": work.visibility,
        "created_at": work.created_at.isoformat(),
        "owners": [
            {**creator_json(o.creator), "fraction": format_share(o.fraction)} for o in work.owners
        ],
        "sources": [
            {
                "work": c.source.public_id,
                "title": c.source.title if c.source_id in shown else graph_service.PRIVATE_TITLE,
                "share": format_share(c.share),
                **({"credit_role": c.credit_role} if c.credit_role else {}),
            }
            for c in work.sources
        ],
        "retained_share": format_share(work.retained_share),
        "cited_by": [
            {"work": c.work.public_id, "share": format_share(c.share)}
            for c in work.cited_by
            if c.work_id in shown
        ],
        "url": url_for("pages.work", public_id=work.public_id, _external=False),
    }
    if work.kind == "record":
        data["consent"] = {"remix": work.consent_remix, "ai_training": work.consent_ai_training}
    if work.media_key:
        data["media"] = {
            "type": work.media_type,
            "kind": work.media_kind,
            "size": work.media_size,
            "sha256": work.media_sha256,
            "filename": work.media_filename,
            "url": url_for("api.record_media", public_id=work.public_id),
        }
    if work.media_provenance is not None:
        credentials = dict(work.media_provenance)
        if not work.is_owned_by(viewer.id if viewer else None):
            credentials.pop("proposed_sources", None)  # what the owner may cite is theirs to see
        data["content_credentials"] = credentials
    return data


@bp.get("/openapi.json")
def openapi() -> Response:
    return jsonify(openapi_document())


@bp.post("/auth/register")
def register() -> tuple[Response, int]:
    data = body()
    creator = accounts.register(
        db(),
        email=data.get("email"),
        password=data.get("password"),
        display_name=data.get("display_name"),
    )
    return jsonify(creator_json(creator, private=True)), 201


@bp.get("/me")
@auth_required
def get_me() -> Response:
    data = creator_json(me(), private=True)
    provider = settings().payout_provider
    account = payouts.payout_account(db(), me().id, provider)
    data["payout"] = {
        "provider": provider,
        "connected": account is not None,
        "payable": bool(account and account.payable),
        "status": account.status_reason if account else "no payout account yet",
    }
    return jsonify(data)


@bp.post("/records")
@takes_upload
@auth_required
def create_record() -> tuple[Response, int]:
    upload = request.files.get("file")
    if upload is None:
        raise InvalidInput("file: attach the media as multipart field 'file'")
    form = request.form
    sources: Mapping[str, object] | None = None
    if form.get("sources"):
        sources = loads_json(form["sources"])
        if not isinstance(sources, dict):
            raise InvalidInput("sources: expected a JSON object of work id -> share")
    work = records.upload_record(
        db(),
        storage(),
        me(),
        stream=upload.stream,
        filename=upload.filename or "",
        title=form.get("title"),
        description=form.get("description", ""),
        consent_remix=form.get("consent_remix"),
        consent_ai_training=form.get("consent_ai_training"),
        visibility=form.get("visibility", "public"),
        sources=sources,
        max_bytes=settings().max_upload_bytes,
        credentials_reader=credentials_reader(),
    )
    return jsonify(work_json(work, me())), 201


@bp.get("/records/<public_id>")
@bp.get("/works/<public_id>")
def get_work(public_id: str) -> Response:
    return jsonify(work_json(graph_service.visible_work(db(), actor(), public_id), actor()))


@bp.get("/records/<public_id>/media")
def record_media(public_id: str) -> Response:
    work = graph_service.visible_work(db(), actor(), public_id)
    return media_response(work, download=True)


@bp.put("/records/<public_id>/consent")
@auth_required
def put_consent(public_id: str) -> Response:
    data = body()
    unknown = set(data) - {"remix", "ai_training"}
    if unknown:
        raise InvalidInput(f"unknown fields: {', '.join(sorted(unknown))}")
    work = records.set_consent(
        db(), me(), public_id, remix=data.get("remix"), ai_training=data.get("ai_training")
    )
    return jsonify(work_json(work, me()))


@bp.post("/works/<public_id>/sources")
@auth_required
def post_source(public_id: str) -> tuple[Response, int]:
    data = body()
    if "source" not in data or "share" not in data:
        raise InvalidInput("give both 'source' (a work id) and 'share'")
    citation = graph_service.cite(db(), me(), public_id, data["source"], data["share"])
    return jsonify(work_json(citation.work, me())), 201


@bp.get("/works/<public_id>/graph")
def work_graph(public_id: str) -> Response:
    work = graph_service.visible_work(db(), actor(), public_id)
    return jsonify(graph_service.export_ancestry(db(), actor(), work))
