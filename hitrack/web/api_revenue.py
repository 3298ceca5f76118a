"""The revenue API under ``/api/v1`` and the signed Stripe webhook endpoint.

Views parse, call one service and serialise. The webhook endpoint has no
session and no CSRF token: the provider's signature is its authentication.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, Response, abort, jsonify, request

from hitrack.db.models import RevenueEvent
from hitrack.domain.errors import InvalidInput
from hitrack.domain.money import format_micros, format_micros_exact
from hitrack.domain.shares import format_share
from hitrack.services import revenue, statements, webhooks
from hitrack.web.api import auth_required, body, csrf_for_cookie_sessions, me
from hitrack.web.context import db, settings, stripe_webhook_verifier
from hitrack.web.errors import json_error
from hitrack.web.openapi import register_paths

bp = Blueprint("api_revenue", __name__, url_prefix="/api/v1")
bp.before_request(csrf_for_cookie_sessions)
webhooks_bp = Blueprint("webhooks", __name__, url_prefix="/webhooks")


def money_json(micros: int, currency: str) -> dict[str, Any]:
    """Exact micros, and the amount to the cent for display, and exactly."""
    return {
        "micros": micros,
        "currency": currency,
        "display": format_micros(micros),
        "exact": format_micros_exact(micros),
    }


def event_json(event: RevenueEvent) -> dict[str, Any]:
    return {
        "external_id": event.external_id,
        "origin": event.origin,
        "work": {"id": event.work.public_id, "title": event.work.title, "kind": event.work.kind},
        "currency": event.currency,
        "amount": event.amount,
        "costs": event.costs,
        "fee_rate": format_share(event.fee_rate),
        "fee": event.fee,
        "recouped": event.recouped,
        "distributable": event.distributable,
        "attribution": event.attribution,
        "output": event.output,
        "occurred_at": event.occurred_at.isoformat(),
        "allocations": [
            {
                "creator": a.creator.handle,
                "display_name": a.creator.display_name,
                "kind": a.kind,
                "amount": a.amount,
                "exact": a.exact,
                "explanation": revenue.explanation_lines(a.explanation),
            }
            for a in event.allocations
        ],
    }


def earning_json(line: statements.EarningLine) -> dict[str, Any]:
    return {
        "event": line.event,
        "at": line.at.isoformat(),
        "kind": line.kind,
        "work": {"id": line.work_id, "title": line.work_title, "kind": line.work_kind},
        **money_json(line.amount, line.currency),
        "exact_entitlement": line.exact,
        "explanation": line.lines,
    }


@bp.post("/revenue")
@auth_required
def post_revenue() -> tuple[Response, int]:
    recorded = revenue.record_revenue(
        db(), me(), body(), default_fee_rate=settings().default_fee_rate
    )
    event = revenue.get_event(db(), recorded.event.external_id)
    return jsonify(event_json(event)), 201 if recorded.created else 200


@bp.get("/revenue/<external_id>")
@auth_required
def get_revenue(external_id: str) -> Response:
    return jsonify(event_json(revenue.visible_event(db(), me(), external_id)))


@bp.get("/me/earnings")
@auth_required
def my_earnings() -> Response:
    found = statements.earnings(db(), me().id)
    return jsonify(
        {
            "balances": [money_json(v, c) for c, v in found.balances.items()],
            "held": [money_json(v, c) for c, v in found.held.items()],
            "earnings": [earning_json(line) for line in found.lines],
        }
    )


def statement_json(st: statements.Statement) -> dict[str, Any]:
    def moves(lines: list[statements.MoneyLine], currency: str) -> list[dict[str, Any]]:
        return [
            {
                "at": m.at.isoformat(),
                "kind": m.kind,
                "reference": m.reference,
                "description": m.description,
                **money_json(m.amount, currency),
            }
            for m in lines
        ]

    return {
        "from": st.start.isoformat(),
        "to": st.end.isoformat(),
        "currencies": [
            {
                "currency": p.currency,
                "opening_balance": money_json(p.opening, p.currency),
                "earnings": [earning_json(e) for e in p.earnings],
                "earnings_total": money_json(p.earnings_total, p.currency),
                "payouts": moves(p.payouts, p.currency),
                "payouts_total": money_json(p.payouts_total, p.currency),
                "adjustments": moves(p.adjustments, p.currency),
                "closing_balance": money_json(p.closing, p.currency),
                "reconciles": p.reconciles,
            }
            for p in st.currencies
        ],
    }


def statement_for_request() -> statements.Statement:
    start, end = statements.parse_period(
        request.args.get("from"), request.args.get("to"), today=datetime.now(UTC).date()
    )
    return statements.statement(db(), me().id, start, end)


def wants_csv() -> bool:
    if request.args.get("format") == "csv":
        return True
    best = request.accept_mimetypes.best_match(["application/json", "text/csv"])
    return (
        best == "text/csv"
        and request.accept_mimetypes["text/csv"] > request.accept_mimetypes["application/json"]
    )


def csv_response(st: statements.Statement) -> Response:
    filename = f"hitrack-statement-{st.start.isoformat()}-{st.end.isoformat()}.csv"
    return Response(
        statements.statement_csv(st),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@bp.get("/me/statement")
@auth_required
def my_statement() -> Response:
    st = statement_for_request()
    return csv_response(st) if wants_csv() else jsonify(statement_json(st))


# --- webhooks ----------------------------------------------------------------------


@webhooks_bp.post("/stripe")
def stripe_webhook() -> tuple[Response, int]:
    provider = stripe_webhook_verifier()
    if provider is None:
        abort(404, "Stripe webhooks are not configured (set HITRACK_STRIPE_WEBHOOK_SECRET)")
    try:
        event = provider.parse_webhook(
            request.get_data(), request.headers.get("Stripe-Signature", "")
        )
    except InvalidInput as error:  # bad signature, stale timestamp, not an event
        return json_error(error.code, error.message, 400), 400
    row = webhooks.handle_event(
        db(), "stripe", event, webhooks.WebhookContext(default_fee_rate=settings().default_fee_rate)
    )
    return jsonify({"received": True, "event": row.event_id, "status": row.status}), 200


# --- OpenAPI -----------------------------------------------------------------------

_ERR = {"$ref": "#/components/schemas/Error"}


def _resp(status: int, schema: dict[str, Any]) -> dict[str, Any]:
    return {
        str(status): {
            "description": "OK" if status < 400 else "Error",
            "content": {"application/json": {"schema": schema}},
        }
    }


def _errors(*codes: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for code in codes:
        out.update(_resp(code, _ERR))
    return out


PERIOD = [
    {"name": "from", "in": "query", "schema": {"type": "string", "format": "date"}},
    {"name": "to", "in": "query", "schema": {"type": "string", "format": "date"}},
    {"name": "format", "in": "query", "schema": {"enum": ["json", "csv"]}},
]

register_paths(
    {
        "/api/v1/revenue": {
            "post": {
                "summary": "Record and settle a revenue event (admins; a model's operator for that model)",
                "tags": ["revenue"],
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/RevenueIn"}}
                    },
                },
                "responses": {
                    **_resp(201, {"$ref": "#/components/schemas/RevenueEvent"}),
                    **_resp(200, {"$ref": "#/components/schemas/RevenueEvent"}),
                    **_errors(401, 403, 404, 409, 422),
                },
            }
        },
        "/api/v1/revenue/{external_id}": {
            "get": {
                "summary": "A revenue event with its allocations (admins, its sender, the work's owners)",
                "tags": ["revenue"],
                "parameters": [
                    {
                        "name": "external_id",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "string"},
                    }
                ],
                "responses": {
                    **_resp(200, {"$ref": "#/components/schemas/RevenueEvent"}),
                    **_errors(401, 404),
                },
            }
        },
        "/api/v1/me/earnings": {
            "get": {
                "summary": "Balance per currency and each earning with its explanation",
                "tags": ["revenue"],
                "responses": {**_resp(200, {"type": "object"}), **_errors(401)},
            }
        },
        "/api/v1/me/statement": {
            "get": {
                "summary": "Statement for a period: opening, earnings, payouts, closing (JSON, or CSV with "
                "Accept: text/csv)",
                "tags": ["revenue"],
                "parameters": PERIOD,
                "responses": {
                    "200": {
                        "description": "OK",
                        "content": {
                            "application/json": {"schema": {"type": "object"}},
                            "text/csv": {"schema": {"type": "string"}},
                        },
                    },
                    **_errors(401, 422),
                },
            }
        },
    },
    {
        "RevenueIn": {
            "type": "object",
            "required": ["work", "amount", "currency", "external_id"],
            "properties": {
                "work": {"type": "string"},
                "amount": {"type": "integer", "minimum": 0},
                "currency": {"type": "string", "pattern": "^[A-Za-z]{3}$"},
                "costs": {"type": "integer", "minimum": 0},
                "fee_rate": {"oneOf": [{"type": "string"}, {"type": "integer"}]},
                "external_id": {"type": "string", "maxLength": 200},
                "attribution": {
                    "type": "object",
                    "additionalProperties": {"oneOf": [{"type": "string"}, {"type": "integer"}]},
                },
                "output": {
                    "type": "string",
                    "description": "an attributed output of this model, instead of attribution",
                },
            },
        },
        "RevenueEvent": {
            "type": "object",
            "required": ["external_id", "amount", "fee", "allocations"],
            "properties": {
                "external_id": {"type": "string"},
                "amount": {"type": "integer"},
                "fee": {"type": "integer"},
                "recouped": {"type": "integer"},
                "distributable": {"type": "integer"},
                "allocations": {"type": "array", "items": {"type": "object"}},
            },
        },
    },
)
