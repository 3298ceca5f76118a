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
from hitrack.domain.paging import PageRequest
from hitrack.domain.shares import format_share, loads_json
from hitrack.services import accounts, payouts, records, work_links
from hitrack.services import graph as graph_service
from hitrack.web.context import credentials_reader, db, settings, storage
from hitrack.web.guards import takes_upload
from hitrack.web.media import media_response
from hitrack.web.openapi import (
    ANY_TEXT,
    SPACE,
    WORK_ID,
    link,
    nullable,
    object_schema,
    openapi_document,
    operation,
    ref,
    register_paths,
    text,
)
from hitrack.web.paging import link_pages, paging_params

# ``me`` stays importable from here for the revenue API module.
from hitrack.web.signed_in import actor, is_signed_in
from hitrack.web.signed_in import me as me

bp = Blueprint("core", __name__)
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


def _linked_json(item: work_links.LinkedWork, *, source: bool) -> dict[str, Any]:
    data: dict[str, Any] = {"work": item.work, "share": format_share(item.share)}
    if source:
        data["title"] = item.title
        if item.credit_role:
            data["credit_role"] = item.credit_role
    return data


def work_json(
    work: Work,
    viewer: Creator | None,
    *,
    pages: tuple[PageRequest, PageRequest] | None = None,
) -> dict[str, Any]:
    """The work as JSON, with the first page (or the ``pages`` asked for) of its sources and citers."""
    sources, cited_by = pages or (PageRequest(), PageRequest())
    links = work_links.work_links(db(), viewer, work, sources=sources, cited_by=cited_by)
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
        "sources": [_linked_json(c, source=True) for c in links.sources.items],
        "sources_count": links.sources.total,
        "sources_count_exact": links.sources.total_exact,
        "sources_next": links.sources.next_cursor,
        "retained_share": format_share(links.retained_share),
        "cited_by": [_linked_json(c, source=False) for c in links.cited_by.items],
        "cited_by_count": links.cited_by.total,
        "cited_by_count_exact": links.cited_by.total_exact,
        "cited_by_next": links.cited_by.next_cursor,
        "url": url_for("pages.work", public_id=work.public_id, _external=False),
    }
    if work.kind == "record":
        data["consent"] = {"remix": work.consent_remix, "ai_training": work.consent_ai_training}
        data["tags"] = list(work.tags or [])
        data["hidden"] = work.hidden
    if work.media_key:
        data["media"] = {
            "type": work.media_type,
            "kind": work.media_kind,
            "size": work.media_size,
            "sha256": work.media_sha256,
            "filename": work.media_filename,
            "url": url_for("api.core.record_media", public_id=work.public_id),
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
    work = graph_service.visible_work(db(), actor(), public_id)
    return jsonify(work_json(work, actor(), pages=link_pages(request.args)))


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


# --- OpenAPI -----------------------------------------------------------------------

#: What an upload may be: its type is read from its content (hitrack.storage.sniff).
MEDIA_TYPES = (
    "audio/mpeg",
    "audio/wav",
    "audio/flac",
    "audio/ogg",
    "audio/mp4",
    "audio/webm",
    "audio/x-matroska",
    "video/mp4",
    "video/quicktime",
    "video/webm",
    "video/ogg",
    "video/x-matroska",
    "video/x-msvideo",
    "image/png",
    "image/jpeg",
    "image/gif",
    "image/webp",
    "text/plain",
)
EMAIL = {
    "type": "string",
    "maxLength": 254,
    "pattern": rf"^[{SPACE}]*[^@{SPACE}\u0000]{{1,64}}@[^@{SPACE}\u0000]+\.[^@{SPACE}\u0000]+[{SPACE}]*$",
    "examples": ["ana@example.com"],
}
PASSWORD = {"type": "string", "minLength": 10, "maxLength": 1024, "pattern": ANY_TEXT}
_LINK_PAGES = paging_params(
    ("sources_after", "list the sources after this cursor (`sources_next` of the page before)"),
    ("cited_by_after", "list the citers after this cursor (`cited_by_next` of the page before)"),
)
_WORK_LINKS = {
    "GetWork": link("getWork", "the work just written", public_id="$response.body#/id"),
    "GetWorkGraph": link("getWorkGraph", "its ancestry", public_id="$response.body#/id"),
}
_RECORD_LINKS = {
    **_WORK_LINKS,
    "GetRecord": link("getRecord", "the record", public_id="$response.body#/id"),
    "GetRecordMedia": link("getRecordMedia", "its media", public_id="$response.body#/id"),
    "PutConsent": link("putConsent", "change its consent", public_id="$response.body#/id"),
    "CiteSource": link("citeSource", "cite a source from it", public_id="$response.body#/id"),
    "EditRecord": link("editRecord", "edit its words", public_id="$response.body#/id"),
    "HideRecord": link("hideRecord", "hide it from the lists", public_id="$response.body#/id"),
    "DeleteRecord": link("deleteRecord", "delete it", public_id="$response.body#/id"),
}

register_paths(
    {
        "/api/v1/auth/register": {
            "post": operation(
                "Create a creator account",
                tag="auth",
                operation_id="register",
                auth=False,
                ok=201,
                errors=(409, 422),
                body=object_schema(
                    ["email", "password", "display_name"],
                    email=EMAIL,
                    password=PASSWORD,
                    display_name=text(120),
                ),
                response=ref("Me"),
                links={
                    "IssueToken": link(
                        "issueToken",
                        "sign in with the new account",
                        request_body={
                            "email": "$request.body#/email",
                            "password": "$request.body#/password",
                        },
                    )
                },
            )
        },
        "/api/v1/me": {
            "get": operation(
                "The signed-in creator: profile, roles and payout status",
                tag="creators",
                operation_id="getMe",
                response=ref("Me"),
                errors=(401,),
            )
        },
        "/api/v1/records": {
            "post": operation(
                "Upload a record (optionally a remix citing sources)",
                tag="records",
                operation_id="createRecord",
                ok=201,
                errors=(401, 404, 409, 413, 422),
                multipart=object_schema(
                    ["file", "title"],
                    file={
                        "type": "string",
                        "format": "binary",
                        "minLength": 1,
                        "description": "the media; its type is read from the content: "
                        + ", ".join(MEDIA_TYPES),
                    },
                    title=text(200),
                    description=text(5000, required=False),
                    visibility={"enum": ["public", "private"]},
                    consent_remix={"type": "boolean"},
                    consent_ai_training={"type": "boolean"},
                    sources={
                        "type": "object",
                        "description": "work id -> share, sent as a JSON part; a work's "
                        "shares sum to at most 1",
                        "propertyNames": ref("Id"),
                        "additionalProperties": ref("Share"),
                    },
                ),
                encoding={
                    "file": {"contentType": ", ".join(MEDIA_TYPES)},
                    "sources": {"contentType": "application/json"},
                },
                response=ref("Work"),
                links=_RECORD_LINKS,
            )
        },
        "/api/v1/records/{public_id}": {
            "get": operation(
                "A record's metadata",
                tag="records",
                operation_id="getRecord",
                auth=False,
                params=[WORK_ID, *_LINK_PAGES],
                response=ref("Work"),
                errors=(404,),
            )
        },
        "/api/v1/works/{public_id}": {
            "get": operation(
                "Any work's metadata",
                tag="works",
                operation_id="getWork",
                auth=False,
                description="Sources and citers are listed a page at a time: `sources_next` and "
                "`cited_by_next` are the cursors of the next pages (null on the last), "
                "`sources_count` and `cited_by_count` the totals.",
                params=[WORK_ID, *_LINK_PAGES],
                response=ref("Work"),
                errors=(404,),
            )
        },
        "/api/v1/records/{public_id}/media": {
            "get": operation(
                "Download the record's media, served as the type read from its content",
                tag="records",
                operation_id="getRecordMedia",
                auth=False,
                params=[WORK_ID],
                media={
                    media_type: {"type": "string", "format": "binary"} for media_type in MEDIA_TYPES
                },
                errors=(404,),
            )
        },
        "/api/v1/records/{public_id}/consent": {
            "put": operation(
                "Owners set what the record may be used for",
                tag="records",
                operation_id="putConsent",
                params=[WORK_ID],
                errors=(401, 403, 404, 422),
                body=object_schema([], remix={"type": "boolean"}, ai_training={"type": "boolean"}),
                response=ref("Work"),
                links=_WORK_LINKS,
            )
        },
        "/api/v1/works/{public_id}/sources": {
            "post": operation(
                "Cite a source with a share",
                tag="works",
                operation_id="citeSource",
                ok=201,
                params=[WORK_ID],
                errors=(401, 403, 404, 409, 422),
                body=object_schema(["source", "share"], source=ref("Id"), share=ref("Share")),
                response=ref("Work"),
                links=_WORK_LINKS,
            )
        },
        "/api/v1/works/{public_id}/graph": {
            "get": operation(
                "The work's ancestry in the interchange format",
                tag="works",
                operation_id="getWorkGraph",
                auth=False,
                params=[WORK_ID],
                errors=(404,),
                response=ref("Interchange"),
            )
        },
    },
    {
        "Token": object_schema(
            ["token", "token_type"],
            closed=False,
            token={"type": "string"},
            token_type={"const": "Bearer"},
        ),
        "Me": object_schema(
            ["id", "display_name", "email", "roles", "created_at"],
            closed=False,
            id={"type": "string"},
            display_name={"type": "string"},
            email={"type": "string"},
            roles={"type": "array", "items": {"enum": ["creator", "admin"]}},
            created_at=ref("Timestamp"),
            payout=object_schema(
                ["provider", "connected", "payable", "status"],
                closed=False,
                provider={"enum": ["manual", "stripe"]},
                connected={"type": "boolean"},
                payable={"type": "boolean"},
                status={"type": "string"},
            ),
        ),
        "Owner": {
            "allOf": [
                ref("Creator"),
                object_schema(["fraction"], closed=False, fraction=ref("ExactText")),
            ]
        },
        "Work": object_schema(
            [
                "id",
                "kind",
                "title",
                "description",
                "visibility",
                "created_at",
                "owners",
                "sources",
                "retained_share",
                "cited_by",
                "url",
            ],
            closed=False,
            id={"type": "string"},
            kind={"enum": ["record", "production", "model"]},
            title={"type": "string"},
            description={"type": "string"},
            visibility={"enum": ["public", "private"]},
            created_at=ref("Timestamp"),
            owners={"type": "array", "items": ref("Owner")},
            sources={
                "type": "array",
                "items": object_schema(
                    ["work", "title", "share"],
                    closed=False,
                    work={"type": "string"},
                    title={"type": "string"},
                    share=ref("ExactText"),
                    credit_role={"type": "string"},
                ),
            },
            sources_count={
                "type": "integer",
                "minimum": 0,
                "description": "counted up to a cap; `sources_count_exact` false: at least this many",
            },
            sources_count_exact={"type": "boolean"},
            sources_next=nullable({"type": "integer", "minimum": 1}),
            cited_by_count={
                "type": "integer",
                "minimum": 0,
                "description": "counted up to a cap; `cited_by_count_exact` false: at least this many",
            },
            cited_by_count_exact={"type": "boolean"},
            cited_by_next=nullable({"type": "integer", "minimum": 1}),
            retained_share=ref("ExactText"),
            cited_by={
                "type": "array",
                "items": object_schema(
                    ["work", "share"], closed=False, work={"type": "string"}, share=ref("ExactText")
                ),
            },
            url={"type": "string"},
            consent=object_schema(
                ["remix", "ai_training"],
                closed=False,
                remix={"type": "boolean"},
                ai_training={"type": "boolean"},
            ),
            media=object_schema(
                ["type", "kind", "size", "sha256", "filename", "url"],
                closed=False,
                type={"type": "string"},
                kind={"enum": ["audio", "video", "image", "text"]},
                size={"type": "integer", "minimum": 1},
                sha256={"type": "string", "pattern": "^[0-9a-f]{64}$"},
                filename=nullable({"type": "string"}),
                url={"type": "string"},
            ),
        ),
        "Interchange": object_schema(
            ["currency", "works", "events"],
            closed=False,
            currency={"type": "string"},
            works={
                "type": "array",
                "items": object_schema(
                    ["id", "kind", "owners"],
                    closed=False,
                    id={"type": "string"},
                    kind={"enum": ["record", "production", "model"]},
                    owners={"type": "object", "additionalProperties": ref("ExactText")},
                    sources={"type": "object", "additionalProperties": ref("ExactText")},
                    attribution_weight=ref("ExactText"),
                    consent=object_schema(
                        ["remix", "ai_training"],
                        closed=False,
                        remix={"type": "boolean"},
                        ai_training={"type": "boolean"},
                    ),
                    title={"type": "string"},
                ),
            },
            events={"type": "array", "items": {"type": "object"}},
        ),
    },
)
