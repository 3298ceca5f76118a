"""Payout pages: a creator's payout account and payouts; the admin's runs, marks and methods.

Changing where money goes (connecting a Stripe account, a fresh onboarding
link, a manual payout method) needs a fresh login: a remembered session
alone is sent to log in again first. Every change is a POST with a CSRF
token; the GET pages only show.
"""

from __future__ import annotations

from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    make_response,
    redirect,
    render_template,
    url_for,
)
from flask.typing import ResponseReturnValue
from wtforms import StringField, TextAreaField
from wtforms.validators import DataRequired, Length

from hitrack.db.models import Creator, Payout
from hitrack.domain.errors import HitrackError, PermissionDenied
from hitrack.services import payouts
from hitrack.web.context import db, mailer, payout_provider, settings
from hitrack.web.extensions import login_manager
from hitrack.web.forms import Form
from hitrack.web.signed_in import fresh_login_required, is_signed_in, login_required, me

bp = Blueprint("payouts", __name__)
login_manager.refresh_view = "auth.login"
login_manager.needs_refresh_message = "Log in again to change where your money is paid."
login_manager.needs_refresh_message_category = "error"


def admin() -> Creator:
    if not me().is_admin:
        raise PermissionDenied("payout runs are for admins")
    return me()


class MethodForm(Form):
    details = TextAreaField(
        "Payout method (bank account, IBAN or PayPal address)",
        validators=[
            DataRequired("Describe where to pay you: a bank account, IBAN or PayPal address."),
            Length(max=500),
        ],
    )


class RunForm(Form):
    pass


class ConnectForm(Form):
    """The connect button: only the CSRF token."""


class MarkForm(Form):
    outcome = StringField(validators=[DataRequired()])  # the button pressed: paid or failed
    note = StringField("Note (bank reference, or why it failed)", validators=[Length(max=300)])


class RecordMethodForm(Form):
    handle = StringField("Creator handle", validators=[DataRequired(), Length(max=64)])
    details = StringField("Payout method", validators=[DataRequired(), Length(max=500)])


@bp.app_template_global()
def my_payouts(limit: int = 20) -> list[Payout]:
    """The signed-in creator's latest payouts (for the earnings page)."""
    if not is_signed_in():
        return []
    return payouts.payouts_for(db(), me().id, limit=limit)


# --- creators ---------------------------------------------------------------------


def _my_page(status: int = 200, method_form: MethodForm | None = None) -> tuple[str, int]:
    """The page; a refused method form comes back with its errors (and what was typed)."""
    provider = payout_provider()
    account = payouts.payout_account(db(), me().id, provider.name)
    minimums = settings().payout_minimum
    return render_template(
        "payouts/me.html",
        provider=provider.name,
        account=account,
        payouts=payouts.payouts_for(db(), me().id),
        method_form=method_form or MethodForm(data={"details": account.details if account else ""}),
        connect_form=ConnectForm(),
        minimums=minimums,
        unpaid_currencies=payouts.unpaid_currencies(db(), me().id, minimums),
    ), status


@bp.get("/me/payouts")
@login_required
def mine() -> tuple[str, int]:
    return _my_page()


@bp.post("/me/payouts/connect")
@fresh_login_required
def connect() -> Response:
    """A fresh onboarding link for the signed-in creator (their provider account is made if needed).

    A form POST, as every change is. The answer cannot redirect to the
    provider (the site's CSP, ``form-action 'self'``, stops a form's redirect
    to another site), so it is a page that moves on to the link by itself
    (a meta refresh, which no CSP directive governs) and shows it as a link.
    """
    if not ConnectForm().validate_on_submit():
        abort(400)
    link = payouts.onboarding_link(db(), payout_provider(), me(), base_url=settings().base_url)
    response = make_response(render_template("payouts/continue.html", link=link))
    response.headers["Cache-Control"] = "no-store"  # the link is single-use and the creator's own
    return response


@bp.get("/me/payouts/connect")
@login_required
def connect_again() -> ResponseReturnValue:
    """Where a fresh log-in's ``next`` leads after the connect button: back to the button."""
    return redirect(url_for("payouts.mine"))


@bp.get("/me/payouts/refresh")
@login_required
def refresh() -> tuple[str, int]:
    """Where the provider sends a creator whose onboarding link expired or was used.

    A navigation from another site, so it changes nothing: the page offers the
    connect button for a fresh link.
    """
    flash("Your onboarding link expired or was already used: continue with a fresh one.", "warning")
    return _my_page()


@bp.get("/me/payouts/return")
@login_required
def returned() -> tuple[str, int]:
    """Back from onboarding: ask the provider where the account stands and show it."""
    account = payouts.refresh_account(db(), payout_provider(), me())
    if account is not None:
        flash(
            "Your payout account is ready: payouts enabled."
            if account.payable
            else f"Your payout account is not payable yet: {account.status_reason}",
            "success" if account.payable else "warning",
        )
    return _my_page()


@bp.post("/me/payouts/method")
@fresh_login_required
def method() -> ResponseReturnValue:
    form = MethodForm()
    if not form.validate_on_submit():
        return _my_page(422, form)
    try:
        payouts.submit_manual_method(db(), me(), form.details.data)
    except HitrackError as error:
        form.details.errors = [error.message]
        return _my_page(422, form)
    flash("Payout method saved; an admin verifies it before you are paid.", "success")
    return redirect(url_for("payouts.mine"))


# --- admins -----------------------------------------------------------------------


@bp.get("/admin/payouts")
@login_required
def admin_index() -> str:
    admin()
    return render_template(
        "payouts/admin.html",
        runs=payouts.list_runs(db()),
        accounts=payouts.all_accounts(db()),
        attention=payouts.needing_attention(db()),
        provider=payout_provider().name,
        run_form=RunForm(),
        record_form=RecordMethodForm(),
        minimums=settings().payout_minimum,
    )


@bp.post("/admin/payouts/runs")
@login_required
def start_run() -> ResponseReturnValue:
    if not RunForm().validate_on_submit():
        abort(400)
    run = payouts.run_payouts(
        db(),
        payout_provider(),
        started_by=admin(),
        minimums=settings().payout_minimum,
        mailer=mailer(),
    )
    flash(payouts.run_summary_line(run), "error" if run.status == "failed" else "success")
    return redirect(url_for("payouts.admin_run", run_id=run.public_id))


@bp.get("/admin/payouts/runs/<run_id>")
@login_required
def admin_run(run_id: str) -> str:
    admin()
    run = payouts.get_run(db(), run_id)
    return render_template(
        "payouts/run.html", run=run, mark_form=MarkForm(), summary=payouts.run_summary_line(run)
    )


@bp.get("/admin/payouts/runs/<run_id>.csv")
@login_required
def admin_run_csv(run_id: str) -> Response:
    text = payouts.export_run_csv(db(), admin(), run_id)
    return Response(
        text,
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="payouts-{run_id}.csv"'},
    )


@bp.post("/admin/payouts/<int:payout_id>/mark")
@login_required
def mark(payout_id: int) -> ResponseReturnValue:
    form = MarkForm()
    if not form.validate_on_submit() or form.outcome.data not in ("paid", "failed"):
        abort(400)
    payout = payouts.mark_manual(
        db(),
        admin(),
        payout_id,
        paid=form.outcome.data == "paid",
        note=form.note.data or "",
        mailer=mailer(),
    )
    flash(f"Payout {payout.idempotency_key} marked {payout.status}.", "success")
    return redirect(url_for("payouts.admin_run", run_id=payout.run.public_id))


@bp.post("/admin/payouts/methods")
@login_required
def record_method() -> ResponseReturnValue:
    form = RecordMethodForm()
    if not form.validate_on_submit():
        flash("Give a creator handle and a payout method.", "error")
        return redirect(url_for("payouts.admin_index"))
    try:
        payouts.record_manual_method(db(), admin(), form.handle.data.strip(), form.details.data)
    except HitrackError as error:
        if isinstance(error, PermissionDenied):
            raise
        flash(error.message, "error")
    else:
        flash(f"Payout method of {form.handle.data.strip()} recorded and verified.", "success")
    return redirect(url_for("payouts.admin_index"))


@bp.post("/admin/payouts/methods/<handle>/verify")
@login_required
def verify_method(handle: str) -> ResponseReturnValue:
    if not RunForm().validate_on_submit():
        abort(400)
    payouts.verify_manual_method(db(), admin(), handle)
    flash(f"Payout method of {handle} verified.", "success")
    return redirect(url_for("payouts.admin_index"))
