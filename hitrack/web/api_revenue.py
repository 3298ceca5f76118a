"""The revenue API under ``/api/v1`` and the signed Stripe webhook endpoint.

Views parse, call one service and serialise. The webhook endpoint has no
session and no CSRF token: the provider's signature is its authentication.
Revenue a model's operator reports is ``reported`` until it is funded: the
operator pays it (``POST /revenue/{id}/fund``), or an admin confirms the money
arrived (``/confirm-funding``) or rejects it (``/reject``).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any

from flask import Blueprint, Response, abort, jsonify, request

from hitrack.db.models import Creator, RevenueEvent
from hitrack.domain.errors import InvalidInput
from hitrack.domain.money import (
    MAX_EVENT_MICROS,
    MINOR_UNIT_EXPONENTS,
    format_micros,
    format_micros_exact,
    parse_currency,
)
from hitrack.domain.paging import COUNT_CAP, MAX_PER_PAGE, PageRequest
from hitrack.domain.shares import format_share
from hitrack.services import explanations, funding, revenue, settlement, statements, webhooks
from hitrack.web.api import auth_required, body, me
from hitrack.web.context import (
    db,
    job_queue,
    payout_provider,
    services,
    settings,
    stripe_webhook_verifier,
)
from hitrack.web.errors import json_error
from hitrack.web.openapi import (
    link,
    nullable,
    object_schema,
    operation,
    path_param,
    query_param,
    ref,
    register_paths,
    text,
)
from hitrack.web.paging import one_page, paging_params

bp = Blueprint("revenue", __name__)
webhooks_bp = Blueprint("webhooks", __name__, url_prefix="/webhooks")


def money_json(micros: int, currency: str) -> dict[str, Any]:
    """Exact micros, and the amount to the currency's minor unit for display, and exactly."""
    return {
        "micros": micros,
        "currency": currency,
        "display": format_micros(micros, currency),
        "exact": format_micros_exact(micros),
    }


_ALLOCATIONS: dict[str, Any] = {
    "allocations": {
        "type": "array",
        "items": object_schema(
            ["creator", "display_name", "kind", "amount", "exact", "explanation"],
            closed=False,
            creator={"type": "string"},
            display_name={"type": "string"},
            kind={"enum": ["earning", "recoup"]},
            amount={"type": "integer", "minimum": 0},
            exact={"type": "string"},
            explanation=nullable({"type": "array", "items": {"type": "string"}}),
        ),
    },
    "allocations_total": {
        "type": "integer",
        "minimum": 0,
        "description": f"how many allocations the event has (counted up to {COUNT_CAP})",
    },
    "allocations_next": nullable({"type": "integer", "minimum": 1}),
}

EXPLAINED_ALLOCATIONS = 50
"""An event with more allocations explains none inline: each creator's explanation is
computed when they open it (``GET /me/earnings``), so a large settlement's response
never replays its whole ancestry (the model operator's own path covers all of it)."""


def allocations_json(event: RevenueEvent, page: PageRequest) -> dict[str, Any]:
    """A page of the event's allocations, each explained inline when the event is small."""
    found = revenue.allocation_page(db(), event, page)
    # A few allocations over a small ancestry are explained inline; any other event's
    # explanations open on demand, one creator at a time (GET /me/earnings).
    explained = (
        0 < found.total <= EXPLAINED_ALLOCATIONS
        and found.total_exact
        and explanations.small_ancestry(db(), event)
    )

    def why(a: revenue.AllocationRow) -> list[str] | None:
        if explained:
            creator = db().get(Creator, a.creator_id)
            assert creator is not None
            return explanations.explain_event(db(), event, creator, kind=a.kind)
        return None

    return {
        "allocations": [
            {
                "creator": a.handle,
                "display_name": a.display_name,
                "kind": a.kind,
                "amount": a.amount,
                "exact": a.exact,
                "explanation": why(a),
            }
            for a in found.items
        ],
        "allocations_total": found.total,
        "allocations_next": found.next_cursor,
    }


def event_json(event: RevenueEvent) -> dict[str, Any]:
    """The event, with the first page of its allocations (:data:`MAX_PER_PAGE` of them)."""
    return {
        "external_id": event.external_id,
        "origin": event.origin,
        "state": event.state,
        "funding": None
        if event.funded_at is None
        else {"method": event.funding_method, "funded_at": event.funded_at.isoformat()},
        **({"rejection_reason": event.rejection_reason} if event.state == "rejected" else {}),
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
        **allocations_json(event, PageRequest(per_page=MAX_PER_PAGE)),
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
        "credits": list(line.credits),
        "cursor": line.allocation_id,
    }


@bp.post("/revenue")
@auth_required
def post_revenue() -> tuple[Response, int]:
    recorded = revenue.record_revenue(
        db(),
        me(),
        body(),
        default_fee_rate=settings().default_fee_rate,
        queue=job_queue(),
        period_min_sources=settings().period_settlement_min_sources,
    )
    event = revenue.get_event(db(), recorded.event.external_id)
    return jsonify(event_json(event)), 201 if recorded.created else 200


@bp.get("/revenue/<external_id>")
@auth_required
def get_revenue(external_id: str) -> Response:
    return jsonify(event_json(revenue.visible_event(db(), me(), external_id)))


def note_field(name: str | None) -> object:
    """The one optional text field ``name`` of the request's JSON object (the body may be empty)."""
    data = body() if request.get_data() else {}
    unknown = set(data) - {name}
    if unknown:
        raise InvalidInput(f"unknown fields: {', '.join(sorted(unknown))}")
    return data.get(name) if name else None


@bp.get("/revenue/<external_id>/allocations")
@auth_required
def get_revenue_allocations(external_id: str) -> Response:
    event = revenue.visible_event(db(), me(), external_id)
    return jsonify(allocations_json(event, one_page(request.args, "after")))


@bp.post("/revenue/<external_id>/fund")
@auth_required
def fund_revenue(external_id: str) -> Response:
    note_field(None)
    found = funding.open_checkout(
        db(), me(), external_id, payout_provider(), base_url=settings().base_url
    )
    event = revenue.get_event(db(), found.event.external_id)
    return jsonify(
        {
            "event": event_json(event),
            "method": found.method,
            "checkout": None
            if found.checkout_id is None
            else {"id": found.checkout_id, "url": found.url},
            "instructions": found.instructions,
        }
    )


@bp.post("/revenue/<external_id>/confirm-funding")
@auth_required
def confirm_funding(external_id: str) -> Response:
    reference = note_field("reference")
    event = funding.confirm_funding(db(), me(), external_id, reference)
    return jsonify(event_json(revenue.get_event(db(), event.external_id)))


@bp.post("/revenue/<external_id>/reject")
@auth_required
def reject_revenue(external_id: str) -> Response:
    reason = note_field("reason")
    event = funding.reject_report(db(), me(), external_id, reason)
    return jsonify(event_json(revenue.get_event(db(), event.external_id)))


@bp.post("/settlement/periods")
@auth_required
def post_settlement_period() -> tuple[Response, int]:
    """Close the settlement period up to ``until`` (admins): answered at once with the job."""
    from hitrack.web.api_jobs import job_json

    data = body() if request.get_data() else {}
    unknown = set(data) - {"until"}
    if unknown:
        raise InvalidInput(f"unknown fields: {', '.join(sorted(unknown))}")
    until = settlement.parse_until(data.get("until"))
    job = settlement.submit_period(db(), job_queue(), me(), until)
    db().refresh(job)  # the inline queue may have run it already
    return jsonify(job_json(job)), 202


@bp.get("/me/earnings")
@auth_required
def my_earnings() -> Response:
    found = statements.earnings(db(), me().id, page=one_page(request.args, "before"))
    return jsonify(
        {
            "balances": [money_json(v, c) for c, v in found.balances.items()],
            "held": [money_json(v, c) for c, v in found.held.items()],
            "earnings": [earning_json(line) for line in found.lines],
            "earnings_count": found.count,
            "earnings_next": found.next_before,
            "expected": {
                "totals": [money_json(v, c) for c, v in found.expected_totals.items()],
                "earnings": [earning_json(line) for line in found.expected],
                "more": found.expected_more,
            },
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
                "earnings_count": p.earnings_count,
                "earnings_next": p.earnings_next,
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


def statement_period() -> tuple[date, date]:
    return statements.parse_period(
        request.args.get("from"), request.args.get("to"), today=datetime.now(UTC).date()
    )


def statement_currency() -> str | None:
    """The ``currency`` argument: one currency's part of a statement (to page through it)."""
    value = request.args.get("currency")
    return None if value in (None, "") else parse_currency(value)


def wants_csv() -> bool:
    if request.args.get("format") == "csv":
        return True
    best = request.accept_mimetypes.best_match(["application/json", "text/csv"])
    return (
        best == "text/csv"
        and request.accept_mimetypes["text/csv"] > request.accept_mimetypes["application/json"]
    )


def csv_response(creator_id: int, start: date, end: date) -> Response:
    """The whole statement of the period as CSV, streamed as it is read from the database.

    The rows are read after the view has returned, on a session of the
    stream's own (closed when the stream ends or is dropped), so the request's
    session and its teardown stay as they are.
    """
    filename = f"hitrack-statement-{start.isoformat()}-{end.isoformat()}.csv"
    sessions = services().sessions

    def chunks() -> Iterator[str]:
        with sessions() as session:
            yield from statements.statement_csv_chunks(session, creator_id, start, end)

    return Response(
        chunks(),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@bp.get("/me/statement")
@auth_required
def my_statement() -> Response:
    start, end = statement_period()
    if wants_csv():
        return csv_response(me().id, start, end)
    st = statements.statement(
        db(),
        me().id,
        start,
        end,
        page=one_page(request.args, "after"),
        currency=statement_currency(),
    )
    return jsonify(statement_json(st))


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

_MICROS = {"type": "integer", "minimum": 0, "maximum": MAX_EVENT_MICROS}
_DATE = {
    "type": "string",
    "format": "date",
    "pattern": r"^(?:[1-9][0-9]{3}|0[1-9][0-9]{2}|00[1-9][0-9]|000[1-9])-[0-9]{2}-[0-9]{2}$",
}
PERIOD = [
    query_param("from", "first day (default: the first of this month)", _DATE),
    query_param("to", "last day, included (default: today)", _DATE),
    query_param("format", "csv for CSV (or send Accept: text/csv)", {"enum": ["json", "csv"]}),
]

_MONEY = {"$ref": "#/components/schemas/Money"}
_EARNING = {"$ref": "#/components/schemas/Earning"}

register_paths(
    {
        "/api/v1/revenue": {
            "post": operation(
                "Record a revenue event (admins; a model's operator for that model)",
                tag="revenue",
                operation_id="recordRevenue",
                ok=201,
                description="An admin's event is funded on arrival and settled at once (201 with "
                "its allocations). A model's operator only reports revenue: the event is "
                "`reported`, moves no money and pays nobody until it is funded "
                "(`POST /api/v1/revenue/{external_id}/fund`). Idempotent by external_id: the "
                "same event again answers 200 with the recorded event to whoever may see it; "
                "another payload under the same id is a 409; to anyone else another's id "
                "answers exactly as an unknown one would.",
                body=ref("RevenueIn"),
                response=ref("RevenueEvent"),
                also={200: ref("RevenueEvent")},
                errors=(401, 403, 404, 409, 422),
                links={
                    "GetRevenue": link(
                        "getRevenue", "the event", external_id="$response.body#/external_id"
                    )
                },
            )
        },
        "/api/v1/settlement/periods": {
            "post": operation(
                "Close a settlement period (admins): every funded event up to `until` "
                "settles as one batch per currency, as a job",
                tag="revenue",
                operation_id="closeSettlementPeriod",
                description="`until` is an ISO date (its end) or date-time, default now; a "
                "cut-off in the future is refused. Answers 202 with the job at once; the same "
                "cut-off again answers the same job and settles nothing twice.",
                ok=202,
                body=object_schema(
                    [],
                    until={
                        "anyOf": [
                            {**_DATE, "maxLength": 10},
                            {
                                "type": "string",
                                "format": "date-time",
                                "maxLength": 40,
                                "pattern": r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[^\u0000]*$",
                            },
                        ],
                        "description": "an ISO date (its end) or date-time, not in the future",
                    },
                ),
                body_required=False,
                response=ref("Job"),
                errors=(401, 403, 422),
            )
        },
        "/api/v1/revenue/{external_id}": {
            "get": operation(
                "A revenue event with its allocations (admins, its sender, the work's owners)",
                tag="revenue",
                operation_id="getRevenue",
                params=[path_param("external_id", "the event's external id")],
                response=ref("RevenueEvent"),
                errors=(401, 404),
            )
        },
        "/api/v1/revenue/{external_id}/allocations": {
            "get": operation(
                "A revenue event's allocations, a page at a time (who may see the event)",
                tag="revenue",
                operation_id="getRevenueAllocations",
                description="In allocation order; `allocations_next` is the `after` cursor of "
                "the next page (null on the last). The event itself carries the first "
                f"{MAX_PER_PAGE}.",
                params=[
                    path_param("external_id", "the event's external id"),
                    *paging_params(
                        ("after", "list the allocations after this cursor (`allocations_next`)")
                    ),
                ],
                response=ref("AllocationPage"),
                errors=(401, 404, 422),
            )
        },
        "/api/v1/revenue/{external_id}/fund": {
            "post": operation(
                "Pay a reported event (the operator who reported it)",
                tag="revenue",
                operation_id="fundRevenue",
                description="With Stripe, opens a Checkout session for the amount (whole minor "
                "units) and returns its URL; asking again while it is open returns the same "
                "session. The event is funded and settled only by Stripe's signed "
                "`checkout.session.completed` webhook. With manual payouts, answers with "
                "instructions and an admin confirms the payment. 409 when the event is already "
                "funded, settled or rejected.",
                params=[path_param("external_id", "the event's external id")],
                response=ref("Funding"),
                errors=(401, 403, 404, 409, 422, 503),
            )
        },
        "/api/v1/revenue/{external_id}/confirm-funding": {
            "post": operation(
                "Confirm the money of a reported event arrived (admins): fund and settle it",
                tag="revenue",
                operation_id="confirmRevenueFunding",
                params=[path_param("external_id", "the event's external id")],
                body=object_schema(
                    [],
                    reference=text(
                        500,
                        required=False,
                        description="the payment's reference, e.g. from the bank",
                    ),
                ),
                body_required=False,
                response=ref("RevenueEvent"),
                errors=(401, 403, 404, 409, 422),
            )
        },
        "/api/v1/revenue/{external_id}/reject": {
            "post": operation(
                "Reject a reported event (admins): it never moves money",
                tag="revenue",
                operation_id="rejectRevenue",
                params=[path_param("external_id", "the event's external id")],
                body=object_schema(
                    [], reason=text(500, required=False, description="why the report is rejected")
                ),
                body_required=False,
                response=ref("RevenueEvent"),
                errors=(401, 403, 404, 409, 422),
            )
        },
        "/api/v1/me/earnings": {
            "get": operation(
                "Balance per currency, each earning with its explanation, and what is expected "
                "from reported revenue not yet funded (never in the balance)",
                tag="revenue",
                operation_id="getEarnings",
                description="Earnings are listed newest first, a page at a time: "
                "`earnings_next` is the `before` cursor of the next page (null on the last).",
                params=paging_params(
                    ("before", "list the earnings before this cursor (`earnings_next`)")
                ),
                response=ref("Earnings"),
                errors=(401, 422),
            )
        },
        "/api/v1/me/statement": {
            "get": operation(
                "Statement for a period: opening, earnings, payouts, closing",
                tag="revenue",
                operation_id="getStatement",
                description="JSON, or CSV with format=csv or Accept: text/csv. The period runs "
                f"from `from` to `to` (both included): `to` is not before `from`, and it "
                f"covers at most {statements.MAX_PERIOD_DAYS} days. JSON lists each currency's "
                "earnings a page at a time, oldest first (`earnings_next` is the `after` cursor "
                "of the next page; totals cover the whole period); CSV streams every line.",
                params=[
                    *PERIOD,
                    query_param(
                        "currency",
                        "only this currency's part (to page through its earnings)",
                        {"enum": sorted(MINOR_UNIT_EXPONENTS)},
                    ),
                    *paging_params(
                        ("after", "list the earnings after this cursor (`earnings_next`)")
                    ),
                ],
                response=ref("Statement"),
                media={"text/csv": {"type": "string"}},
                errors=(401, 422),
            )
        },
    },
    {
        "RevenueIn": {
            **object_schema(
                ["work", "amount", "currency", "external_id"],
                work=ref("Id"),
                amount=_MICROS,
                currency={
                    "enum": sorted(MINOR_UNIT_EXPONENTS),
                    "description": "ISO 4217 code (any letter case)",
                },
                costs=_MICROS,
                fee_rate=ref("UnitShare"),
                external_id=text(200),
                attribution={
                    "type": "object",
                    "minProperties": 1,
                    "description": "models only: record id -> score, for this event",
                    "propertyNames": ref("Id"),
                    "additionalProperties": ref("Weight"),
                },
                output={
                    **ref("Id"),
                    "maxLength": 64,
                    "description": "an attributed output of this model, instead of attribution",
                },
            ),
            "not": {"required": ["attribution", "output"]},
        },
        "Money": object_schema(
            ["micros", "currency", "display", "exact"],
            closed=False,
            micros={"type": "integer"},
            currency={"type": "string"},
            display={"type": "string"},
            exact={"type": "string"},
        ),
        "RevenueEvent": object_schema(
            [
                "external_id",
                "origin",
                "state",
                "work",
                "currency",
                "amount",
                "costs",
                "fee_rate",
                "fee",
                "recouped",
                "distributable",
                "attribution",
                "occurred_at",
                "allocations",
            ],
            closed=False,
            external_id={"type": "string"},
            origin={"enum": ["api", "csv", "stripe"]},
            state={
                "enum": ["reported", "funded", "settled", "rejected"],
                "description": "reported: claimed by a model's operator, no money yet; funded: "
                "the money arrived; settled: allocated into payables; rejected: never pays",
            },
            funding=nullable(
                object_schema(
                    ["method", "funded_at"],
                    closed=False,
                    method={"enum": ["on_arrival", "checkout", "manual"]},
                    funded_at=ref("Timestamp"),
                )
            ),
            rejection_reason={"type": "string"},
            work=object_schema(
                ["id", "title", "kind"],
                closed=False,
                id={"type": "string"},
                title={"type": "string"},
                kind={"enum": ["record", "production", "model"]},
            ),
            currency={"type": "string"},
            amount={"type": "integer", "minimum": 0},
            costs={"type": "integer", "minimum": 0},
            fee_rate=ref("ExactText"),
            fee={"type": "integer", "minimum": 0},
            recouped={"type": "integer", "minimum": 0},
            distributable={"type": "integer", "minimum": 0},
            attribution=nullable({"type": "object", "additionalProperties": {"type": "string"}}),
            occurred_at=ref("Timestamp"),
            allocations=_ALLOCATIONS["allocations"],
            allocations_total=_ALLOCATIONS["allocations_total"],
            allocations_next=_ALLOCATIONS["allocations_next"],
        ),
        "AllocationPage": object_schema(
            ["allocations", "allocations_total", "allocations_next"], closed=False, **_ALLOCATIONS
        ),
        "Earning": {
            "allOf": [
                ref("Money"),
                object_schema(
                    ["event", "at", "kind", "work", "exact_entitlement", "explanation"],
                    closed=False,
                    event={"type": "string"},
                    at=ref("Timestamp"),
                    kind={"enum": ["earning", "recoup"]},
                    work=object_schema(
                        ["id", "title", "kind"],
                        closed=False,
                        id={"type": "string"},
                        title={"type": "string"},
                        kind={"enum": ["record", "production", "model"]},
                    ),
                    exact_entitlement={"type": "string"},
                    explanation={"type": "array", "items": {"type": "string"}},
                    credits={
                        "type": "array",
                        "items": {"type": "string"},
                        "description": "the credits of yours it came through, e.g. "
                        "'as sound mixer on Night Swim, through 25% credit pool'",
                    },
                    cursor={"type": "integer", "minimum": 1},
                ),
            ]
        },
        "Earnings": object_schema(
            ["balances", "held", "earnings", "expected"],
            closed=False,
            balances={"type": "array", "items": ref("Money")},
            held={"type": "array", "items": ref("Money")},
            earnings={"type": "array", "items": ref("Earning")},
            earnings_count={"type": "integer", "minimum": 0},
            earnings_next=nullable({"type": "integer", "minimum": 1}),
            expected={
                **object_schema(
                    ["totals", "earnings", "more"],
                    closed=False,
                    totals={"type": "array", "items": ref("Money")},
                    earnings={"type": "array", "items": ref("Earning")},
                    more={
                        "type": "boolean",
                        "description": "more reported events would pay you than are listed",
                    },
                ),
                "description": "your parts of revenue reported by models' operators and not "
                "yet funded: computed now, not in your balance, paid only once funded",
            },
        ),
        "Funding": object_schema(
            ["event", "method", "checkout", "instructions"],
            closed=False,
            event=ref("RevenueEvent"),
            method={"enum": ["checkout", "manual"]},
            checkout=nullable(
                object_schema(
                    ["id", "url"], closed=False, id={"type": "string"}, url={"type": "string"}
                )
            ),
            instructions={"type": "string"},
        ),
        "MoneyMove": {
            "allOf": [
                ref("Money"),
                object_schema(
                    ["at", "kind", "reference", "description"],
                    closed=False,
                    at=ref("Timestamp"),
                    kind={"type": "string"},
                    reference={"type": "string"},
                    description={"type": "string"},
                ),
            ]
        },
        "Statement": object_schema(
            ["from", "to", "currencies"],
            closed=False,
            **{
                "from": {"type": "string", "format": "date"},
                "to": {"type": "string", "format": "date"},
            },
            currencies={
                "type": "array",
                "items": object_schema(
                    [
                        "currency",
                        "opening_balance",
                        "earnings",
                        "earnings_total",
                        "payouts",
                        "payouts_total",
                        "adjustments",
                        "closing_balance",
                        "reconciles",
                    ],
                    closed=False,
                    currency={"type": "string"},
                    opening_balance=ref("Money"),
                    earnings={"type": "array", "items": ref("Earning")},
                    earnings_count={"type": "integer", "minimum": 0},
                    earnings_next=nullable({"type": "integer", "minimum": 1}),
                    earnings_total=ref("Money"),
                    payouts={"type": "array", "items": ref("MoneyMove")},
                    payouts_total=ref("Money"),
                    adjustments={"type": "array", "items": ref("MoneyMove")},
                    closing_balance=ref("Money"),
                    reconciles={"type": "boolean"},
                ),
            },
        ),
    },
)
