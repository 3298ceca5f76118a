"""Money pages: a creator's earnings and statements, a work's revenue report, the admin ledger."""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Blueprint, Response, render_template, request
from flask_login import current_user, login_required

from hitrack.db.models import Creator
from hitrack.domain.errors import PermissionDenied
from hitrack.domain.money import format_micros_exact
from hitrack.services import reports, statements
from hitrack.web.api_revenue import csv_response
from hitrack.web.context import db

bp = Blueprint("revenue", __name__)


@bp.app_template_filter("money_exact")
def money_exact(micros: int) -> str:
    """Micros with all six decimals: the sub-cent remainder made visible."""
    return format_micros_exact(micros)


def me() -> Creator:
    return current_user  # type: ignore[return-value]


@bp.get("/me/earnings")
@login_required
def earnings() -> str:
    found = statements.earnings(db(), me().id)
    currencies = sorted({line.currency for line in found.lines} | set(found.balances))
    charts = [statements.chart_data(found.lines, c) for c in currencies] or [
        {"currency": "USD", "points": []}
    ]
    today = datetime.now(UTC).date()
    return render_template(
        "revenue/earnings.html",
        found=found,
        charts=charts,
        period_from=today.replace(day=1).isoformat(),
        period_to=today.isoformat(),
    )


@bp.get("/me/statement")
@login_required
def statement() -> Response | str:
    start, end = statements.parse_period(
        request.args.get("from"), request.args.get("to"), today=datetime.now(UTC).date()
    )
    st = statements.statement(db(), me().id, start, end)
    if request.args.get("format") == "csv":
        return csv_response(st)
    return render_template("revenue/statement.html", st=st)


@bp.get("/works/<public_id>/report")
@login_required
def work_report(public_id: str) -> str:
    return render_template("revenue/report.html", report=reports.work_report(db(), me(), public_id))


@bp.get("/admin/ledger")
@login_required
def admin_ledger() -> str:
    if not me().is_admin:
        raise PermissionDenied("the ledger overview is for admins")
    return render_template("revenue/ledger.html", overview=reports.ledger_overview(db(), me()))
