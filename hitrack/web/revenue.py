"""Money pages: earnings and statements, a work's revenue report, reported revenue, the ledger.

An operator pays the revenue they reported on ``/me/revenue`` (a Checkout page
with Stripe; instructions with manual payouts); admins confirm manual funding
or reject reports on ``/admin/revenue`` and close settlement periods on
``/admin/settlement`` (a job).
"""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_wtf.file import FileField, FileRequired
from wtforms import StringField
from wtforms.validators import DataRequired, Length

from hitrack.db.models import Creator
from hitrack.domain.errors import HitrackError, PermissionDenied
from hitrack.domain.money import format_micros, format_micros_exact
from hitrack.services import funding, reports, revenue, settlement, statements
from hitrack.web.api_revenue import csv_response, statement_currency
from hitrack.web.context import db, job_queue, payout_provider, settings
from hitrack.web.errors import status_for
from hitrack.web.forms import Form
from hitrack.web.guards import takes_upload
from hitrack.web.paging import one_page
from hitrack.web.signed_in import login_required, me

bp = Blueprint("revenue", __name__)


@bp.app_template_filter("money_exact")
def money_exact(micros: int) -> str:
    """Micros with all six decimals: the sub-cent remainder made visible."""
    return format_micros_exact(micros)


class ActionForm(Form):
    """A button with its CSRF token."""


class ConfirmForm(Form):
    reference = StringField("Payment reference", validators=[Length(max=500)])


class RejectForm(Form):
    reason = StringField("Reason", validators=[Length(max=500)])


@bp.get("/me/earnings")
@login_required
def earnings() -> str:
    found = statements.earnings(db(), me().id, page=one_page(request.args, "before"))
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


@bp.get("/me/earnings/<external_id>")
@login_required
def earning(external_id: str) -> str:
    """Why was I paid: one earning, explained when the creator opens it."""
    lines = statements.explain_earning(db(), me().id, external_id)
    return render_template("revenue/earning.html", lines=lines)


@bp.get("/me/statement")
@login_required
def statement() -> ResponseReturnValue:
    start, end = statements.parse_period(
        request.args.get("from"), request.args.get("to"), today=datetime.now(UTC).date()
    )
    if request.args.get("format") == "csv":
        return csv_response(me().id, start, end)
    st = statements.statement(
        db(),
        me().id,
        start,
        end,
        page=one_page(request.args, "after"),
        currency=statement_currency(),
    )
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


# --- reported revenue: the operator pays, an admin confirms or rejects ----------------


@bp.get("/me/revenue")
@login_required
def my_revenue() -> str:
    funded = request.args.get("funded")
    if funded:
        flash(
            f"Thank you. Revenue event {funded} is funded and paid out along the graph as soon "
            "as the payment provider confirms the payment.",
            "success",
        )
    return render_template(
        "revenue/reported.html",
        events=funding.reported_events(db(), me(), mine=True),
        form=ActionForm(),
    )


@bp.post("/me/revenue/<external_id>/fund")
@login_required
def fund(external_id: str) -> ResponseReturnValue:
    if not ActionForm().validate_on_submit():
        abort(400)
    found = funding.open_checkout(
        db(), me(), external_id, payout_provider(), base_url=settings().base_url
    )
    if found.url is None:
        flash(found.instructions, "warning")
        return redirect(url_for("revenue.my_revenue"))
    # A link, not a redirect: the site's CSP (form-action 'self') would stop a
    # form whose answer redirects to the provider.
    return render_template("revenue/fund.html", found=found)


def _admin() -> Creator:
    if not me().is_admin:
        raise PermissionDenied("reported revenue is reviewed by admins")
    return me()


class RecordForm(Form):
    """One revenue event typed by an admin; amounts in the currency's units."""

    external_id = StringField(
        "Event id (your reference, unique)", validators=[DataRequired(), Length(max=200)]
    )
    work = StringField("Work id", validators=[DataRequired(), Length(max=64)])
    amount = StringField("Amount (e.g. 12.34)", validators=[DataRequired(), Length(max=40)])
    currency = StringField("Currency", default="USD", validators=[DataRequired(), Length(max=3)])
    costs = StringField("Costs to recoup (optional)", validators=[Length(max=40)])
    fee_rate = StringField("Platform fee rate (optional, e.g. 0.1)", validators=[Length(max=40)])


class ImportForm(Form):
    file = FileField("CSV file", validators=[FileRequired("Choose a CSV file to import.")])


def _admin_page(
    status: int = 200,
    *,
    record_form: RecordForm | None = None,
    import_form: ImportForm | None = None,
    import_errors: list[tuple[int, str]] | None = None,
) -> tuple[str, int]:
    return render_template(
        "revenue/admin_reported.html",
        events=funding.reported_events(db(), _admin()),
        provider=payout_provider().name,
        confirm_form=ConfirmForm(),
        reject_form=RejectForm(),
        record_form=record_form or RecordForm(),
        import_form=import_form or ImportForm(),
        import_errors=import_errors or [],
    ), status


@bp.get("/admin/revenue")
@login_required
def admin_revenue() -> tuple[str, int]:
    return _admin_page()


@bp.post("/admin/revenue/record")
@login_required
def admin_record() -> ResponseReturnValue:
    """Record one event; the page takes amounts in currency units, the API micros."""
    _admin()
    form = RecordForm()
    if not form.validate_on_submit():
        return _admin_page(422, record_form=form)
    fields = {
        name: getattr(form, name).data.strip()
        for name in ("external_id", "work", "amount", "currency", "costs", "fee_rate")
        if (getattr(form, name).data or "").strip()
    }
    try:
        recorded = revenue.record_revenue(
            db(),
            me(),
            revenue.amounts_from_units(fields),
            default_fee_rate=settings().default_fee_rate,
            queue=job_queue(),
            period_min_sources=settings().period_settlement_min_sources,
        )
    except HitrackError as error:
        form.form_errors.append(error.message)
        return _admin_page(status_for(error), record_form=form)
    event = recorded.event
    flash(
        f"Revenue event {event.external_id} recorded: "
        f"{format_micros(event.amount, event.currency)} {event.currency} on {event.work.title}."
        if recorded.created
        else f"Revenue event {event.external_id} was already recorded with these values.",
        "success",
    )
    return redirect(url_for("revenue.admin_revenue"))


@bp.post("/admin/revenue/import")
@takes_upload
@login_required
def admin_import() -> ResponseReturnValue:
    """Import a CSV in currency units; every bad line is listed and nothing is written."""
    _admin()
    form = ImportForm()
    if not form.validate_on_submit():
        return _admin_page(422, import_form=form)
    try:
        text = form.file.data.read().decode("utf-8")
    except UnicodeDecodeError:
        form.file.errors = ["The file is not UTF-8 text: export the sheet as CSV (UTF-8)."]
        return _admin_page(422, import_form=form)
    try:
        result = revenue.import_csv(
            db(),
            text,
            me(),
            default_fee_rate=settings().default_fee_rate,
            amounts_in_units=True,
        )
    except revenue.ImportError_ as error:
        return _admin_page(422, import_form=form, import_errors=error.errors)
    flash(result.summary().capitalize() + ".", "success")
    return redirect(url_for("revenue.admin_revenue"))


@bp.post("/admin/revenue/<external_id>/confirm")
@login_required
def admin_confirm(external_id: str) -> ResponseReturnValue:
    form = ConfirmForm()
    if not form.validate_on_submit():
        abort(400)
    event = funding.confirm_funding(db(), _admin(), external_id, form.reference.data)
    flash(f"Revenue event {event.external_id} funded and settled.", "success")
    return redirect(url_for("revenue.admin_revenue"))


@bp.post("/admin/revenue/<external_id>/reject")
@login_required
def admin_reject(external_id: str) -> ResponseReturnValue:
    form = RejectForm()
    if not form.validate_on_submit():
        abort(400)
    event = funding.reject_report(db(), _admin(), external_id, form.reason.data)
    flash(f"Revenue event {event.external_id} rejected: it moves no money.", "success")
    return redirect(url_for("revenue.admin_revenue"))


class PeriodForm(Form):
    until = StringField(
        "Settle funded events up to (ISO date or date-time; empty: now)",
        validators=[Length(max=40)],
    )


@bp.get("/admin/settlement")
@login_required
def admin_settlement() -> str:
    if not me().is_admin:
        raise PermissionDenied("settlement periods are closed by admins")
    return render_template(
        "revenue/admin_settlement.html",
        periods=settlement.periods(db()),
        form=PeriodForm(),
    )


@bp.post("/admin/settlement")
@login_required
def admin_close_period() -> ResponseReturnValue:
    form = PeriodForm()
    if not form.validate_on_submit():
        abort(400)
    until = settlement.parse_until(form.until.data or None)
    job = settlement.submit_period(db(), job_queue(), me(), until)
    flash(f"Closing the period up to {until:%Y-%m-%d %H:%M:%S} UTC.", "success")
    return redirect(url_for("jobs.show", job_id=job.public_id))
