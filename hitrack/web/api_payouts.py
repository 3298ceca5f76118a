"""Payout runs over the JSON API: ``POST /api/v1/payouts/runs`` (admin) and ``GET`` one run."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify

from hitrack.db.models import PayoutRun
from hitrack.domain.errors import PermissionDenied
from hitrack.domain.money import format_micros
from hitrack.services import payouts
from hitrack.web.api import auth_required
from hitrack.web.context import db, mailer, payout_provider, settings
from hitrack.web.openapi import register_paths
from hitrack.web.signed_in import me

bp = Blueprint("api_payouts", __name__, url_prefix="/api/v1/payouts")


def _admin() -> Any:
    if not me().is_admin:
        raise PermissionDenied("payout runs are for admins")
    return me()


def run_json(run: PayoutRun) -> dict[str, Any]:
    return {
        "id": run.public_id,
        "provider": run.provider,
        "status": run.status,
        "started_at": run.started_at.isoformat(),
        "finished_at": run.finished_at.isoformat() if run.finished_at else None,
        "summary": run.summary,
        "failure_reason": run.failure_reason,
        "payouts": [
            {
                "id": p.id,
                "creator": p.creator.handle,
                "currency": p.currency,
                "amount": p.amount,
                "amount_display": format_micros(p.amount, p.currency),
                "status": p.status,
                "idempotency_key": p.idempotency_key,
                "transfer": p.provider_transfer_id,
                "reason": p.failure_reason,
            }
            for p in run.payouts
        ],
    }


@bp.post("/runs")
@auth_required
def start_run() -> tuple[Response, int]:
    run = payouts.run_payouts(
        db(),
        payout_provider(),
        started_by=_admin(),
        minimums=settings().payout_minimum,
        mailer=mailer(),
    )
    return jsonify(run_json(run)), 201


@bp.get("/runs/<run_id>")
@auth_required
def get_run(run_id: str) -> Response:
    _admin()
    return jsonify(run_json(payouts.get_run(db(), run_id)))


_ERROR = {
    "description": "Error",
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
}
_RUN = {
    "description": "The run",
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/PayoutRun"}}},
}

register_paths(
    {
        "/api/v1/payouts/runs": {
            "post": {
                "summary": "Start a payout run (admins): hold, send and settle every due payout",
                "tags": ["payouts"],
                "responses": {"201": _RUN, "401": _ERROR, "403": _ERROR, "503": _ERROR},
            }
        },
        "/api/v1/payouts/runs/{run_id}": {
            "get": {
                "summary": "A payout run with each payout's status (admins)",
                "tags": ["payouts"],
                "parameters": [
                    {"name": "run_id", "in": "path", "required": True, "schema": {"type": "string"}}
                ],
                "responses": {"200": _RUN, "401": _ERROR, "403": _ERROR, "404": _ERROR},
            }
        },
    },
    {
        "PayoutRun": {
            "type": "object",
            "required": ["id", "provider", "status", "payouts"],
            "properties": {
                "id": {"type": "string"},
                "provider": {"enum": ["manual", "stripe"]},
                "status": {"enum": ["running", "awaiting", "finished", "failed"]},
                "failure_reason": {
                    "type": "string",
                    "description": "why a failed run stopped (empty otherwise)",
                },
                "started_at": {"type": "string", "format": "date-time"},
                "finished_at": {"type": ["string", "null"], "format": "date-time"},
                "summary": {"type": "object"},
                "payouts": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {
                            "id": {"type": "integer"},
                            "creator": {"type": "string"},
                            "currency": {"type": "string"},
                            "amount": {
                                "type": "integer",
                                "description": "micros, a whole number of the currency's minor unit",
                            },
                            "status": {"enum": ["pending", "paid", "failed", "reversed"]},
                            "idempotency_key": {"type": "string"},
                            "transfer": {"type": ["string", "null"]},
                            "reason": {"type": "string"},
                        },
                    },
                },
            },
        },
    },
)
