"""Credits, claims, escrow, verification and record subjects over the JSON API."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify

from hitrack.db.models import CLAIM_STATES, Credit, RecordSubject
from hitrack.domain.credit_roles import CREDIT_ROLES
from hitrack.domain.errors import InvalidInput
from hitrack.domain.shares import format_share
from hitrack.services import credit_earnings, likeness, verification
from hitrack.services import credits as credit_service
from hitrack.services.graph import visible_work
from hitrack.web.api import EMAIL, auth_required, body
from hitrack.web.context import db, mailer, settings
from hitrack.web.openapi import (
    SHARE,
    WORK_ID,
    object_schema,
    operation,
    path_param,
    ref,
    register_paths,
    text,
)
from hitrack.web.signed_in import actor, me

bp = Blueprint("credits", __name__)


def credit_json(credit: Credit) -> dict[str, Any]:
    return {
        "id": credit.public_id,
        "work": credit.work.public_id,
        "name": credit.name,
        "role": credit.role,
        "weight": format_share(credit.weight),
        "status": credit.status,
        "creator": credit.creator.handle if credit.creator else None,
        "payee": credit_service.credit_payee(credit),
        "claim_final_at": credit.claim_final_at.isoformat() if credit.claim_final_at else None,
        "removed": credit.removed_at is not None,
    }


def subject_json(subject: RecordSubject) -> dict[str, Any]:
    return {
        "id": subject.public_id,
        "name": subject.name,
        "likeness": subject.likeness,
        "creator": subject.creator.handle if subject.creator else None,
        "confirmed": subject.confirmed_at is not None,
        "consent_ai_training": subject.consent_ai_training,
    }


@bp.put("/works/<public_id>/credits")
@auth_required
def put_credits(public_id: str) -> Response:
    visible_work(db(), me(), public_id)  # an unknown work answers 404 before its body is read
    result = credit_service.set_credits(
        db(),
        me(),
        public_id,
        credit_service.parse_credits_input(body()),
        min_credit_pool=settings().min_credit_pool,
        mailer=mailer(),
    )
    work = visible_work(db(), me(), public_id)
    return jsonify(
        {"credit_pool": format_share(work.credit_pool), "credits": [credit_json(c) for c in result]}
    )


@bp.get("/works/<public_id>/credits")
def get_credits(public_id: str) -> Response:
    work = visible_work(db(), actor(), public_id)
    live = [c for c in work.credits if c.removed_at is None]
    return jsonify(
        {"credit_pool": format_share(work.credit_pool), "credits": [credit_json(c) for c in live]}
    )


@bp.get("/works/<public_id>/escrow")
@auth_required
def get_escrow(public_id: str) -> Response:
    lines = credit_service.escrow_report(db(), me(), public_id)
    return jsonify(
        {
            "held_for": sum(1 for line in lines if line.held),
            "credits": [{**credit_json(line.credit), "held": dict(line.held)} for line in lines],
        }
    )


def _token(data: dict[str, Any]) -> object:
    return data.get("token")


@bp.post("/credits/<credit_id>/claim")
@auth_required
def claim(credit_id: str) -> Response:
    credit = credit_service.claim_credit(
        db(),
        me(),
        credit_id,
        _token(body()),
        dispute_days=settings().claim_dispute_days,
        mailer=mailer(),
    )
    return jsonify(credit_json(credit))


@bp.post("/credits/<credit_id>/confirm")
@auth_required
def confirm(credit_id: str) -> Response:
    return jsonify(credit_json(credit_service.confirm_claim(db(), me(), credit_id)))


@bp.post("/credits/<credit_id>/dispute")
@auth_required
def dispute(credit_id: str) -> Response:
    reason = body().get("reason")
    return jsonify(credit_json(credit_service.dispute_claim(db(), me(), credit_id, reason)))


@bp.get("/me/credits")
@auth_required
def my_credits() -> Response:
    held = credit_service.credits_held(db(), me())
    return jsonify(
        {
            "credits": [credit_json(c) for c in held],
            "escrow_earnings": [
                {
                    "credit": e.credit.public_id,
                    "work": e.credit.work.public_id,
                    "event": e.event_id,
                    "currency": e.currency,
                    "amount": e.amount,
                    "explanation": e.lines,
                }
                for e in credit_earnings.escrow_earnings(db(), held, me())
            ],
        }
    )


@bp.post("/admin/creators/<handle>/verify")
@auth_required
def verify_creator(handle: str) -> Response:
    row = verification.verify_by_admin(db(), me(), handle, body().get("reason"))
    return jsonify(
        {
            "creator": handle,
            "source": row.source,
            "reason": row.reason,
            "at": row.created_at.isoformat(),
        }
    )


@bp.put("/records/<public_id>/subjects")
@auth_required
def put_subjects(public_id: str) -> Response:
    visible_work(db(), me(), public_id)  # an unknown record answers 404 before its body is read
    result = likeness.set_subjects(
        db(), me(), public_id, likeness.parse_subjects_input(body()), mailer=mailer()
    )
    return jsonify({"subjects": [subject_json(s) for s in result]})


@bp.post("/subjects/<subject_id>/answer")
def answer_subject(subject_id: str) -> Response:
    data = body()
    consent = data.get("consent_ai_training")
    confirm_ = data.get("confirm", True)
    if not isinstance(confirm_, bool) or not (consent is None or isinstance(consent, bool)):
        raise InvalidInput("confirm and consent_ai_training: expected true or false")
    subject = likeness.answer(
        db(),
        actor(),
        subject_id,
        confirm=confirm_,
        consent_ai_training=consent,
        token=data.get("token"),
    )
    return jsonify(subject_json(subject))


_CREDIT_ID = path_param("credit_id", "the credit's id", ref("Id"))
_SUBJECT_ID = path_param("subject_id", "the subject's id", ref("Id"))
_HANDLE = path_param("handle", "a creator's handle", ref("Id"))
_ROLE = {
    "anyOf": [
        {"enum": list(CREDIT_ROLES)},
        {"type": "string", "maxLength": 120, "pattern": r"^other: *[^\u0000\s][^\u0000]*$"},
    ],
    "description": "a role of the vocabulary, or other: <what they did>",
}
_CREDIT = {"$ref": "#/components/schemas/Credit"}
_CREDITS = object_schema(
    ["credit_pool", "credits"], credit_pool=SHARE, credits={"type": "array", "items": _CREDIT}
)
_ESCROW_EARNING = object_schema(
    ["credit", "work", "event", "currency", "amount", "explanation"],
    closed=False,
    credit={"type": "string"},
    work={"type": "string"},
    event={"type": "string"},
    currency={"type": "string"},
    amount={"type": "integer"},
    explanation={"type": "array", "items": {"type": "string"}},
)
_SUBJECTS = object_schema(
    ["subjects"], subjects={"type": "array", "items": {"$ref": "#/components/schemas/Subject"}}
)

register_paths(
    {
        "/api/v1/works/{public_id}/credits": {
            "get": operation(
                "A work's credits and credit pool",
                tag="credits",
                operation_id="getCredits",
                auth=False,
                params=[WORK_ID],
                response=_CREDITS,
                errors=(404,),
            ),
            "put": operation(
                "Replace a work's credits and set its credit pool (owners); invitations are "
                "mailed to unclaimed credits",
                tag="credits",
                operation_id="putCredits",
                params=[WORK_ID],
                body=object_schema(
                    ["credits"],
                    credit_pool=ref("UnitShare"),
                    credits={
                        "type": "array",
                        "items": object_schema(
                            ["role"],
                            id={**ref("Id"), "description": "keep this existing credit"},
                            name=text(120),
                            role=_ROLE,
                            weight=ref("Weight"),
                            creator={**ref("Id"), "description": "a creator's handle"},
                            email=EMAIL,
                        ),
                    },
                ),
                response=_CREDITS,
                errors=(401, 403, 404, 422),
            ),
        },
        "/api/v1/works/{public_id}/escrow": {
            "get": operation(
                "What the work's unclaimed credits hold in escrow (owners, admins)",
                tag="credits",
                operation_id="getEscrow",
                params=[WORK_ID],
                response={"type": "object"},
                errors=(401, 403, 404),
            )
        },
        "/api/v1/credits/{credit_id}/claim": {
            "post": operation(
                "Claim a credit with its invitation token (a verified creator, the invited "
                "address); pending for HITRACK_CLAIM_DISPUTE_DAYS",
                tag="credits",
                operation_id="claimCredit",
                params=[_CREDIT_ID],
                body=object_schema(["token"], token=text(200)),
                response=_CREDIT,
                errors=(401, 403, 404, 409, 422),
            )
        },
        "/api/v1/credits/{credit_id}/confirm": {
            "post": operation(
                "An owner confirms a pending claim: final now, the escrow moves",
                tag="credits",
                operation_id="confirmClaim",
                params=[_CREDIT_ID],
                response=_CREDIT,
                errors=(401, 403, 404, 409),
            )
        },
        "/api/v1/credits/{credit_id}/dispute": {
            "post": operation(
                "An owner disputes a pending claim within the window",
                tag="credits",
                operation_id="disputeClaim",
                params=[_CREDIT_ID],
                body=object_schema(["reason"], reason=text(500)),
                response=_CREDIT,
                errors=(401, 403, 404, 409, 422),
            )
        },
        "/api/v1/me/credits": {
            "get": operation(
                "The credits I hold or have claimed",
                tag="credits",
                operation_id="myCredits",
                response=object_schema(
                    ["credits", "escrow_earnings"],
                    closed=False,
                    credits={"type": "array", "items": _CREDIT},
                    escrow_earnings={"type": "array", "items": _ESCROW_EARNING},
                ),
                errors=(401,),
            )
        },
        "/api/v1/admin/creators/{handle}/verify": {
            "post": operation(
                "An admin verifies a creator, with the reason",
                tag="credits",
                operation_id="verifyCreator",
                params=[_HANDLE],
                body=object_schema(["reason"], reason=text(500)),
                response=object_schema(
                    ["creator", "source", "reason", "at"],
                    closed=False,
                    creator={"type": "string"},
                    source={"enum": ["stripe", "admin"]},
                    reason={"type": "string"},
                    at={"type": "string", "format": "date-time"},
                ),
                errors=(401, 403, 404, 409, 422),
            )
        },
        "/api/v1/records/{public_id}/subjects": {
            "put": operation(
                "Replace the subjects (people whose likeness appears) of a record (owners)",
                tag="likeness",
                operation_id="putSubjects",
                params=[WORK_ID],
                body=object_schema(
                    ["subjects"],
                    subjects={
                        "type": "array",
                        "items": object_schema(
                            [],
                            id=ref("Id"),
                            name=text(120),
                            likeness={"enum": [x for x in likeness.LIKENESS if x]},
                            creator=ref("Id"),
                            email=EMAIL,
                        ),
                    },
                ),
                response=_SUBJECTS,
                errors=(401, 403, 404, 422),
            )
        },
        "/api/v1/subjects/{subject_id}/answer": {
            "post": operation(
                "A subject confirms and gives or refuses AI-training consent (their account or "
                "their invitation token); future manifests only",
                tag="likeness",
                operation_id="answerSubject",
                auth=False,
                params=[_SUBJECT_ID],
                body=object_schema(
                    [],
                    confirm={"type": "boolean"},
                    consent_ai_training={"type": ["boolean", "null"]},
                    token=text(200),
                ),
                response={"$ref": "#/components/schemas/Subject"},
                errors=(403, 404, 422),
            )
        },
    },
    {
        "Credit": object_schema(
            ["id", "work", "name", "role", "weight", "status", "payee"],
            id={"type": "string"},
            work={"type": "string"},
            name={"type": "string"},
            role={"type": "string"},
            weight=SHARE,
            status={"enum": list(CLAIM_STATES)},
            creator={"type": ["string", "null"]},
            payee={"type": "string", "description": "a creator id, or credit:<id> (escrow)"},
            claim_final_at={"type": ["string", "null"], "format": "date-time"},
            removed={"type": "boolean"},
        ),
        "Subject": object_schema(
            ["id", "name", "confirmed"],
            id={"type": "string"},
            name={"type": "string"},
            likeness={"type": "string"},
            creator={"type": ["string", "null"]},
            confirmed={"type": "boolean"},
            consent_ai_training={"type": ["boolean", "null"]},
        ),
    },
)
