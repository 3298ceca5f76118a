"""JSON API for productions (payment proposals), AI models and notifications, under ``/api/v1``.

Views parse, call one service, serialise; the OpenAPI operations are
registered next to them.
"""

from __future__ import annotations

from datetime import UTC, datetime
from fractions import Fraction
from typing import Any

from flask import Blueprint, Response, jsonify, request, url_for

from hitrack.db.models import Comment, Creator, ProposalRevision
from hitrack.domain.errors import InvalidInput
from hitrack.domain.money import format_micros
from hitrack.domain.shares import format_share, loads_json
from hitrack.services import ai_models, notifications
from hitrack.services import productions as prod
from hitrack.services.graph import PRIVATE_TITLE, visible_ids
from hitrack.web.api import (
    auth_required,
    body,
    creator_json,
    work_json,
)
from hitrack.web.context import db, mailer, settings, storage
from hitrack.web.guards import takes_upload
from hitrack.web.openapi import (
    WORK_ID,
    link,
    nullable,
    object_schema,
    operation,
    path_param,
    ref,
    register_paths,
    text,
)
from hitrack.web.productions import window
from hitrack.web.signed_in import actor, me

bp = Blueprint("productions", __name__)


def _fields(data: dict[str, Any], allowed: set[str]) -> dict[str, Any]:
    unknown = set(data) - allowed
    if unknown:
        raise InvalidInput(f"unknown fields: {', '.join(sorted(unknown))}")
    return data


def _time(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


# --- Serialisers -----------------------------------------------------------------


def revision_json(
    revision: ProposalRevision,
    changes: list[prod.LineChange] | None = None,
    hidden: set[int] | frozenset[int] = frozenset(),
) -> dict[str, Any]:
    """A revision; the works in ``hidden`` (the viewer may not see them) are left untitled."""
    data: dict[str, Any] = {
        "number": revision.number,
        "published_at": _time(revision.published_at),
        "window_closes_at": _time(revision.window_closes_at),
        "note": revision.note,
        "lines": [
            {
                "work": line.source.public_id,
                "title": PRIVATE_TITLE if line.source_id in hidden else line.source.title,
                "share": format_share(line.share),
                "credit_role": line.credit_role,
            }
            for line in revision.lines
        ],
        "retained_share": format_share(
            1 - sum((line.share for line in revision.lines), Fraction(0))
        ),
    }
    if changes is not None:
        data["changes"] = [
            {
                "work": c.source.public_id,
                "change": c.change,
                "before": format_share(c.before) if c.before is not None else None,
                "after": format_share(c.after) if c.after is not None else None,
                "role_before": c.role_before,
                "role_after": c.role_after,
            }
            for c in changes
        ]
    return data


def comment_json(comment: Comment) -> dict[str, Any]:
    return {
        "id": comment.id,
        "author": creator_json(comment.author),
        "body": comment.body,
        "objection": comment.is_objection,
        "created_at": _time(comment.created_at),
        "answer": comment.answer,
        "answered_at": _time(comment.answered_at),
        "resolved_at": _time(comment.resolved_at),
    }


def preview_json(preview: prod.Preview) -> dict[str, Any]:
    return {
        "amount": preview.amount,
        "per": format_micros(preview.amount),
        "creators": [
            {
                **creator_json(line.creator),
                "micros": line.micros,
                "amount": format_micros(line.micros),
                "exact": format_share(line.exact),
                "paths": line.paths,
                "explanations": [
                    {
                        "work": e.work,
                        "value": format_share(e.value),
                        "retained": format_share(e.retained),
                        "ownership": format_share(e.ownership),
                        "amount": format_share(e.amount),
                        "routes": [
                            {
                                "steps": [
                                    {
                                        "work": s.work,
                                        "source": s.source,
                                        "share": format_share(s.share),
                                    }
                                    for s in route.steps
                                ],
                                "amount": format_share(route.amount),
                            }
                            for route in e.routes
                        ],
                        "more_routes": e.more_routes,
                    }
                    for e in line.explanations
                ],
            }
            for line in preview.lines
        ],
    }


def production_json(view: prod.ProductionView, viewer: Creator | None) -> dict[str, Any]:
    work = view.production
    latest = view.latest
    return {
        **work_json(work, viewer),
        "url": url_for("productions.show", public_id=work.public_id),
        "status": work.status,
        "producer": creator_json(view.producer) if view.producer else None,
        "proposal": None
        if latest is None
        else {
            "revision": latest.number,
            "window_closes_at": _time(latest.window_closes_at),
            "window_open": view.window_open,
            "can_finalize": view.can_finalize,
            "unpublished_changes": view.unpublished_changes,
        },
        "revisions": [revision_json(r, view.diffs[r.number], view.hidden) for r in view.revisions],
        "comments": [comment_json(c) for c in view.comments],
        "log": [
            {
                "action": e.action,
                "actor": creator_json(e.actor) if e.actor else None,
                "detail": e.detail,
                "at": _time(e.at),
            }
            for e in view.log
        ],
    }


def _production(public_id: str, status: int = 200) -> tuple[Response, int]:
    view = prod.production_view(db(), actor(), public_id)
    return jsonify(production_json(view, actor())), status


def model_json(view: ai_models.ModelView, viewer: Creator | None) -> dict[str, Any]:
    model = view.model
    records = {line.record.id for line in view.manifest}
    shown = visible_ids(db(), viewer, records)
    return {
        **work_json(model, viewer),
        "url": url_for("models.show", public_id=model.public_id),
        "name": model.title,
        "version": model.version,
        "attribution_weight": format_share(model.attribution_weight),
        "manifest": [
            {
                "record": line.record.public_id,
                "title": line.record.title if line.record.id in shown else PRIVATE_TITLE,
                "share": format_share(line.share),
                "sha256": line.record.media_sha256,
                "consent": {
                    "at_registration": True,
                    "now": line.consent_now,
                    "revoked_at": _time(line.revoked_at),
                },
            }
            for line in view.manifest
        ],
        "versions": [
            {"id": v.public_id, "version": v.version, "created_at": _time(v.created_at)}
            for v in view.versions
        ],
    }


def _registration(result: ai_models.Registration) -> tuple[Response, int]:
    view = ai_models.model_view(db(), me(), result.model.public_id)
    return jsonify(
        {
            "model": model_json(view, me()),
            "matched": [
                {
                    "record": e.record.public_id,
                    "title": e.record.title,
                    "weight": format_share(e.weight),
                    **({"sha256": e.via} if e.via else {}),
                }
                for e in result.matched
            ],
            "unmatched_hashes": result.unmatched_hashes,
        }
    ), 201


# --- Productions -----------------------------------------------------------------


@bp.post("/productions")
@takes_upload
@auth_required
def create_production() -> tuple[Response, int]:
    upload = request.files.get("file")
    if upload is not None or request.mimetype == "multipart/form-data":
        form = request.form
        contributions = loads_json(form["contributions"]) if form.get("contributions") else None
        data: dict[str, Any] = {
            "title": form.get("title"),
            "description": form.get("description", ""),
            "contributions": contributions,
        }
    else:
        data = _fields(body(), {"title", "description", "contributions"})
    work = prod.create_production(
        db(),
        me(),
        title=data.get("title"),
        description=data.get("description", ""),
        contributions=prod.parse_contributions(data.get("contributions")),
        storage=storage() if upload is not None else None,
        stream=upload.stream if upload else None,
        filename=(upload.filename or "") if upload else "",
        max_bytes=settings().max_upload_bytes,
    )
    return _production(work.public_id, 201)


@bp.get("/productions/<public_id>")
def get_production(public_id: str) -> tuple[Response, int]:
    return _production(public_id)


@bp.put("/productions/<public_id>/contributions")
@auth_required
def put_contributions(public_id: str) -> tuple[Response, int]:
    data = _fields(body(), {"contributions"})
    if "contributions" not in data:
        raise InvalidInput(
            "give 'contributions': an object of work id -> share (or {share, credit_role})"
        )
    prod.set_contributions(db(), me(), public_id, prod.parse_contributions(data["contributions"]))
    return _production(public_id)


@bp.post("/productions/<public_id>/proposal")
@auth_required
def publish(public_id: str) -> tuple[Response, int]:
    data = _fields(body(), {"retained", "note"})
    prod.publish_proposal(
        db(),
        me(),
        public_id,
        window=window(),
        retained=data.get("retained", "0"),
        note=data.get("note", ""),
        mailer=mailer(),
    )
    return _production(public_id, 201)


@bp.post("/productions/<public_id>/comments")
@auth_required
def comment(public_id: str) -> tuple[Response, int]:
    data = _fields(body(), {"body", "objection"})
    objection = data.get("objection", False)
    if not isinstance(objection, bool):
        raise InvalidInput("objection: expected true or false")
    created = prod.add_comment(
        db(), me(), public_id, data.get("body"), objection=objection, mailer=mailer()
    )
    return jsonify(comment_json(created)), 201


@bp.post("/productions/<public_id>/comments/<comment_id>/answer")
@auth_required
def answer_objection(public_id: str, comment_id: str) -> tuple[Response, int]:
    production = prod.get_production(db(), actor(), public_id)  # 404 before the body is read
    data = _fields(body(), {"answer", "resolve"})
    resolve = data.get("resolve", False)
    if not isinstance(resolve, bool):
        raise InvalidInput("resolve: expected true or false")
    answered = prod.answer_objection(
        db(),
        me(),
        production.public_id,
        comment_id,
        data.get("answer", ""),
        resolve=resolve,
        mailer=mailer(),
    )
    return jsonify(comment_json(answered)), 200


@bp.post("/productions/<public_id>/finalize")
@auth_required
def finalize(public_id: str) -> tuple[Response, int]:
    prod.get_production(db(), actor(), public_id)  # 404 before the body is read
    data = _fields(body() if request.get_data() else {}, {"confirm_open_objections"})
    confirm = data.get("confirm_open_objections", False)
    if not isinstance(confirm, bool):
        raise InvalidInput("confirm_open_objections: expected true or false")
    prod.finalize(db(), me(), public_id, confirm_open_objections=confirm, mailer=mailer())
    return _production(public_id)


@bp.post("/productions/<public_id>/cancel")
@auth_required
def cancel(public_id: str) -> tuple[Response, int]:
    data = _fields(body() if request.get_data() else {}, {"reason"})
    prod.cancel(db(), me(), public_id, reason=data.get("reason", ""), mailer=mailer())
    return _production(public_id)


@bp.get("/productions/<public_id>/preview")
def preview(public_id: str) -> Response:
    production = prod.get_production(db(), actor(), public_id)
    return jsonify(preview_json(prod.preview(db(), actor(), production)))


# --- Models ----------------------------------------------------------------------


@bp.post("/models")
@auth_required
def create_model() -> tuple[Response, int]:
    data = _fields(
        body(), {"name", "description", "version", "retained", "attribution_weight", "manifest"}
    )
    return _registration(
        ai_models.register_model(
            db(),
            me(),
            name=data.get("name"),
            description=data.get("description", ""),
            version=data.get("version", "1"),
            retained=data.get("retained", "0"),
            attribution_weight=data.get("attribution_weight", "0"),
            manifest=data.get("manifest"),
            storage=storage(),
        )
    )


@bp.get("/models/<public_id>")
def get_model(public_id: str) -> Response:
    return jsonify(model_json(ai_models.model_view(db(), actor(), public_id), actor()))


@bp.post("/models/<public_id>/versions")
@auth_required
def create_version(public_id: str) -> tuple[Response, int]:
    data = _fields(
        body(), {"name", "description", "version", "retained", "attribution_weight", "manifest"}
    )
    return _registration(
        ai_models.register_version(
            db(),
            me(),
            public_id,
            version=data.get("version"),
            manifest=data.get("manifest"),
            name=data.get("name"),
            description=data.get("description"),
            retained=data.get("retained", "0"),
            attribution_weight=data.get("attribution_weight"),
            storage=storage(),
        )
    )


# --- Notifications ---------------------------------------------------------------


@bp.get("/me/notifications")
@auth_required
def my_notifications() -> Response:
    rows = notifications.notifications_for(db(), me())
    return jsonify(
        {
            "unread": notifications.unread_count(db(), me()),
            "notifications": [
                {
                    "id": n.id,
                    "kind": n.kind,
                    "message": n.message,
                    "url": n.url,
                    "created_at": _time(n.created_at),
                    "read": n.read_at is not None,
                }
                for n in rows
            ],
        }
    )


@bp.post("/me/notifications/read")
@auth_required
def read_notifications() -> Response:
    return jsonify({"marked": notifications.mark_all_read(db(), me(), now=datetime.now(UTC))})


# --- OpenAPI ---------------------------------------------------------------------

_CREDIT_ROLE = text(80, required=False)
_CONTRIBUTIONS = {
    "type": "object",
    "description": "work id -> share, or {share, credit_role}; the shares sum to at most 1",
    "propertyNames": ref("Id"),
    "additionalProperties": {
        "anyOf": [
            ref("Share"),
            object_schema(["share"], share=ref("Share"), credit_role=_CREDIT_ROLE),
        ]
    },
}
_MODEL_BODY = object_schema(
    ["name", "manifest"],
    name=text(200),
    description=text(5000, required=False),
    version=text(40),
    retained=ref("RetainedShare"),
    attribution_weight=ref("UnitShare"),
    manifest={
        "type": "object",
        "minProperties": 1,
        "description": "record id, or sha256 of the media ('sha256:<hex>' or 64 hex digits)"
        " -> weight; the records' owners consent to AI training",
        "propertyNames": ref("Id"),
        "additionalProperties": ref("Weight"),
    },
)
_STATE = (401, 403, 404, 409, 422)


def _production_links(expression: str) -> dict[str, Any]:
    """What can follow an answer that holds a production at ``expression``."""
    return {
        name: link(target, description, public_id=expression)
        for name, target, description in [
            ("GetProduction", "getProduction", "the production"),
            ("PutContributions", "putContributions", "change its split"),
            ("PublishProposal", "publishProposal", "publish its split as a proposal"),
            ("Comment", "commentOnProposal", "comment on its proposal"),
            ("Finalize", "finalizeProduction", "finalize its split"),
            ("Cancel", "cancelProduction", "cancel it"),
            ("Preview", "previewProduction", "what each creator would receive"),
        ]
    }


_MODEL_LINKS = {
    "GetModel": link("getModel", "the model version", public_id="$response.body#/model/id"),
    "NewVersion": link(
        "createModelVersion", "its next version", public_id="$response.body#/model/id"
    ),
    "GetWorkGraph": link("getWorkGraph", "its ancestry", public_id="$response.body#/model/id"),
}
_PRODUCTION_LINKS = _production_links("$response.body#/id")

register_paths(
    {
        "/api/v1/productions": {
            "post": operation(
                "Start a draft production (you become its producer)",
                tag="productions",
                operation_id="createProduction",
                ok=201,
                errors=(401, 404, 409, 422),
                body=object_schema(
                    ["title"],
                    title=text(200),
                    description=text(5000, required=False),
                    contributions=_CONTRIBUTIONS,
                ),
                response=ref("Production"),
                links=_PRODUCTION_LINKS,
            )
        },
        "/api/v1/productions/{public_id}": {
            "get": operation(
                "A production: split, proposal state, revisions with diffs, comments, log",
                tag="productions",
                operation_id="getProduction",
                auth=False,
                params=[WORK_ID],
                errors=(404,),
                response=ref("Production"),
            )
        },
        "/api/v1/productions/{public_id}/contributions": {
            "put": operation(
                "The producer replaces the split (draft or proposed); publish to propose it",
                tag="productions",
                operation_id="putContributions",
                params=[WORK_ID],
                errors=_STATE,
                body=object_schema(["contributions"], contributions=_CONTRIBUTIONS),
                response=ref("Production"),
                links=_PRODUCTION_LINKS,
            )
        },
        "/api/v1/productions/{public_id}/proposal": {
            "post": operation(
                "Publish the split as a new revision; opens or restarts the comment window",
                tag="productions",
                operation_id="publishProposal",
                ok=201,
                params=[WORK_ID],
                errors=_STATE,
                description="The contributions' shares plus the producer's retained share "
                "make exactly 1; a split that does not is refused with 409.",
                body=object_schema(
                    [],
                    retained={
                        "allOf": [ref("UnitShare")],
                        "description": "the producer's retained share; shares + retained = 1",
                    },
                    note=text(2000, required=False),
                ),
                response=ref("Production"),
                links=_PRODUCTION_LINKS,
            )
        },
        "/api/v1/productions/{public_id}/comments": {
            "post": operation(
                "Comment on a proposed split; affected creators may file an objection",
                tag="productions",
                operation_id="commentOnProposal",
                ok=201,
                params=[WORK_ID],
                errors=_STATE,
                body=object_schema(["body"], body=text(5000), objection={"type": "boolean"}),
                response=ref("Comment"),
            )
        },
        "/api/v1/productions/{public_id}/comments/{comment_id}/answer": {
            "post": operation(
                "The producer answers an objection, resolves it, or both",
                tag="productions",
                operation_id="answerObjection",
                params=[WORK_ID, path_param("comment_id", "the objection's id", ref("Id"))],
                errors=_STATE,
                description="An answer is required unless 'resolve' is true; a resolved "
                "objection, or one on a final or cancelled production, is a 409.",
                body=object_schema(
                    [], answer=text(5000, required=False), resolve={"type": "boolean"}
                ),
                response=ref("Comment"),
            )
        },
        "/api/v1/productions/{public_id}/finalize": {
            "post": operation(
                "After the comment window closes, freeze the split",
                tag="productions",
                operation_id="finalizeProduction",
                params=[WORK_ID],
                errors=_STATE,
                description="Objections still open make it a 409 unless "
                "'confirm_open_objections' is true.",
                body=object_schema([], confirm_open_objections={"type": "boolean"}),
                body_required=False,
                response=ref("Production"),
                links=_PRODUCTION_LINKS,
            )
        },
        "/api/v1/productions/{public_id}/cancel": {
            "post": operation(
                "Cancel a production that is not finalized",
                tag="productions",
                operation_id="cancelProduction",
                params=[WORK_ID],
                errors=_STATE,
                body=object_schema([], reason=text(2000, required=False)),
                body_required=False,
                response=ref("Production"),
            )
        },
        "/api/v1/productions/{public_id}/preview": {
            "get": operation(
                "What each creator of the ancestry receives per 100.00 of revenue, with paths",
                tag="productions",
                operation_id="previewProduction",
                auth=False,
                params=[WORK_ID],
                errors=(404,),
                response=ref("Preview"),
            )
        },
        "/api/v1/models": {
            "post": operation(
                "Register an AI model (first version) with its training manifest",
                tag="models",
                operation_id="createModel",
                ok=201,
                errors=(401, 404, 409, 422),
                body=_MODEL_BODY,
                response=ref("Registration"),
                links=_MODEL_LINKS,
            )
        },
        "/api/v1/models/{public_id}": {
            "get": operation(
                "A model version: manifest with consent per record, and all versions",
                tag="models",
                operation_id="getModel",
                auth=False,
                params=[WORK_ID],
                errors=(404,),
                response=ref("Model"),
            )
        },
        "/api/v1/models/{public_id}/versions": {
            "post": operation(
                "Register a new version of a model (earlier versions never change)",
                tag="models",
                operation_id="createModelVersion",
                ok=201,
                params=[WORK_ID],
                errors=(401, 403, 404, 409, 422),
                body={**_MODEL_BODY, "required": ["version", "manifest"]},
                response=ref("Registration"),
                links=_MODEL_LINKS,
            )
        },
        "/api/v1/me/notifications": {
            "get": operation(
                "Your notifications, newest first",
                tag="creators",
                operation_id="getNotifications",
                errors=(401,),
                response=object_schema(
                    ["unread", "notifications"],
                    closed=False,
                    unread={"type": "integer", "minimum": 0},
                    notifications={"type": "array", "items": ref("Notification")},
                ),
            )
        },
        "/api/v1/me/notifications/read": {
            "post": operation(
                "Mark all your notifications read",
                tag="creators",
                operation_id="readNotifications",
                errors=(401,),
                response=object_schema(
                    ["marked"], closed=False, marked={"type": "integer", "minimum": 0}
                ),
            )
        },
    },
    {
        "RetainedShare": {
            "description": "A share in [0, 1) kept by the model itself: 0, a decimal or a fraction",
            "anyOf": [
                {
                    "type": "string",
                    "pattern": r"^(?:0(?:\.0{1,20})?|0?\.[0-9]{1,20}|0/[1-9][0-9]{0,8}"
                    r"|1/(?:[2-9]|[1-9][0-9]{1,8}))$",
                    "examples": ["0", "0.2", "1/4"],
                },
                {"type": "integer", "minimum": 0, "maximum": 0},
            ],
        },
        "Comment": object_schema(
            ["id", "author", "body", "objection", "created_at"],
            closed=False,
            id={"type": "integer"},
            author=ref("Creator"),
            body={"type": "string"},
            objection={"type": "boolean"},
            created_at=ref("Timestamp"),
            answer=nullable({"type": "string"}),
            answered_at=nullable(ref("Timestamp")),
            resolved_at=nullable(ref("Timestamp")),
        ),
        "Revision": object_schema(
            ["number", "published_at", "window_closes_at", "note", "lines", "retained_share"],
            closed=False,
            number={"type": "integer", "minimum": 1},
            published_at=nullable(ref("Timestamp")),
            window_closes_at=nullable(ref("Timestamp")),
            note={"type": "string"},
            lines={
                "type": "array",
                "items": object_schema(
                    ["work", "title", "share", "credit_role"],
                    closed=False,
                    work={"type": "string"},
                    title={"type": "string"},
                    share=ref("ExactText"),
                    credit_role=nullable({"type": "string"}),
                ),
            },
            retained_share=ref("ExactText"),
            changes={
                "type": "array",
                "items": object_schema(
                    ["work", "change", "before", "after", "role_before", "role_after"],
                    closed=False,
                    work={"type": "string"},
                    change={"enum": ["added", "removed", "changed", "unchanged"]},
                    before=nullable(ref("ExactText")),
                    after=nullable(ref("ExactText")),
                    role_before=nullable({"type": "string"}),
                    role_after=nullable({"type": "string"}),
                ),
            },
        ),
        "Production": {
            "allOf": [
                ref("Work"),
                object_schema(
                    ["status", "producer", "proposal", "revisions", "comments", "log"],
                    closed=False,
                    status={"enum": ["draft", "proposed", "finalized", "cancelled"]},
                    producer=nullable(ref("Creator")),
                    proposal=nullable(
                        object_schema(
                            [
                                "revision",
                                "window_closes_at",
                                "window_open",
                                "can_finalize",
                                "unpublished_changes",
                            ],
                            closed=False,
                            revision={"type": "integer", "minimum": 1},
                            window_closes_at=nullable(ref("Timestamp")),
                            window_open={"type": "boolean"},
                            can_finalize={"type": "boolean"},
                            unpublished_changes={"type": "boolean"},
                        )
                    ),
                    revisions={"type": "array", "items": ref("Revision")},
                    comments={"type": "array", "items": ref("Comment")},
                    log={
                        "type": "array",
                        "items": object_schema(
                            ["action", "actor", "detail", "at"],
                            closed=False,
                            action={"type": "string"},
                            actor=nullable(ref("Creator")),
                            detail={"type": "object"},
                            at=ref("Timestamp"),
                        ),
                    },
                ),
            ]
        },
        "Preview": object_schema(
            ["amount", "per", "creators"],
            closed=False,
            amount={"type": "integer"},
            per={"type": "string"},
            creators={
                "type": "array",
                "items": {
                    "allOf": [
                        ref("Creator"),
                        object_schema(
                            ["micros", "amount", "exact", "paths", "explanations"],
                            closed=False,
                            micros={"type": "integer", "minimum": 0},
                            amount={"type": "string"},
                            exact=ref("ExactText"),
                            paths={"type": "array", "items": {"type": "string"}},
                            explanations={"type": "array", "items": ref("Explanation")},
                        ),
                    ]
                },
            },
        ),
        "Explanation": object_schema(
            ["work", "value", "retained", "ownership", "amount", "routes", "more_routes"],
            closed=False,
            work={"type": "string"},
            value=ref("ExactText"),
            retained=ref("ExactText"),
            ownership=ref("ExactText"),
            amount=ref("ExactText"),
            routes={
                "type": "array",
                "items": object_schema(
                    ["steps", "amount"],
                    closed=False,
                    steps={
                        "type": "array",
                        "items": object_schema(
                            ["work", "source", "share"],
                            closed=False,
                            work={"type": "string"},
                            source={"type": "string"},
                            share=ref("ExactText"),
                        ),
                    },
                    amount=ref("ExactText"),
                ),
            },
            more_routes={"type": "integer", "minimum": 0},
        ),
        "Model": {
            "allOf": [
                ref("Work"),
                object_schema(
                    ["name", "version", "attribution_weight", "manifest", "versions"],
                    closed=False,
                    name={"type": "string"},
                    version=nullable({"type": "string"}),
                    attribution_weight=ref("ExactText"),
                    manifest={
                        "type": "array",
                        "items": object_schema(
                            ["record", "title", "share", "sha256", "consent"],
                            closed=False,
                            record={"type": "string"},
                            title={"type": "string"},
                            share=ref("ExactText"),
                            sha256=nullable({"type": "string"}),
                            consent=object_schema(
                                ["at_registration", "now", "revoked_at"],
                                closed=False,
                                at_registration={"type": "boolean"},
                                now={"type": "boolean"},
                                revoked_at=nullable(ref("Timestamp")),
                            ),
                        ),
                    },
                    versions={
                        "type": "array",
                        "items": object_schema(
                            ["id", "version", "created_at"],
                            closed=False,
                            id={"type": "string"},
                            version=nullable({"type": "string"}),
                            created_at=ref("Timestamp"),
                        ),
                    },
                ),
            ]
        },
        "Registration": object_schema(
            ["model", "matched", "unmatched_hashes"],
            closed=False,
            model=ref("Model"),
            matched={
                "type": "array",
                "items": object_schema(
                    ["record", "title", "weight"],
                    closed=False,
                    record={"type": "string"},
                    title={"type": "string"},
                    weight=ref("ExactText"),
                    sha256={"type": "string"},
                ),
            },
            unmatched_hashes={"type": "array", "items": {"type": "string"}},
        ),
        "Notification": object_schema(
            ["id", "kind", "message", "url", "created_at", "read"],
            closed=False,
            id={"type": "integer"},
            kind={"type": "string"},
            message={"type": "string"},
            url=nullable({"type": "string"}),
            created_at=ref("Timestamp"),
            read={"type": "boolean"},
        ),
    },
)
