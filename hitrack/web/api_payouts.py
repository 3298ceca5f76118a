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
from hitrack.web.openapi import (
    link,
    nullable,
    object_schema,
    operation,
    path_param,
    ref,
    register_paths,
)
from hitrack.web.signed_in import me

bp = Blueprint("payouts", __name__, url_prefix="/payouts")


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


register_paths(
    {
        "/api/v1/payouts/runs": {
            "post": operation(
                "Start a payout run (admins): hold, send and settle every due payout",
                tag="payouts",
                operation_id="startPayoutRun",
                ok=201,
                response=ref("PayoutRun"),
                errors=(401, 403, 503),
                links={"GetRun": link("getPayoutRun", "the run", run_id="$response.body#/id")},
            )
        },
        "/api/v1/payouts/runs/{run_id}": {
            "get": operation(
                "A payout run with each payout's status (admins)",
                tag="payouts",
                operation_id="getPayoutRun",
                params=[path_param("run_id", "the run's id")],
                response=ref("PayoutRun"),
                errors=(401, 403, 404),
            )
        },
    },
    {
        "PayoutRun": object_schema(
            ["id", "provider", "status", "started_at", "finished_at", "summary", "payouts"],
            closed=False,
            id={"type": "string"},
            provider={"enum": ["manual", "stripe"]},
            status={"enum": ["running", "awaiting", "finished", "failed"]},
            failure_reason={
                "type": "string",
                "description": "why a failed run stopped (empty otherwise)",
            },
            started_at=ref("Timestamp"),
            finished_at=nullable(ref("Timestamp")),
            summary={"type": "object"},
            payouts={
                "type": "array",
                "items": object_schema(
                    [
                        "id",
                        "creator",
                        "currency",
                        "amount",
                        "amount_display",
                        "status",
                        "idempotency_key",
                        "transfer",
                        "reason",
                    ],
                    closed=False,
                    id={"type": "integer"},
                    creator={"type": "string"},
                    currency={"type": "string"},
                    amount={
                        "type": "integer",
                        "minimum": 0,
                        "description": "micros, a whole number of minor units",
                    },
                    amount_display={"type": "string"},
                    status={"enum": ["pending", "paid", "failed", "reversed"]},
                    idempotency_key={"type": "string"},
                    transfer=nullable({"type": "string"}),
                    reason={"type": "string"},
                ),
            },
        ),
    },
)
