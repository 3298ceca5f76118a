"""Account settings pages: the creator's API tokens and their password.

Creating a token and changing the password need a fresh log-in (a session
restored from the "keep me signed in" cookie is asked for the password again).
"""

from __future__ import annotations

from flask import (
    Blueprint,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_login import login_user
from wtforms import IntegerField, PasswordField, StringField
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from hitrack.domain.errors import HitrackError
from hitrack.services import accounts
from hitrack.web.auth import new_password_field, repeat_field
from hitrack.web.context import db, settings
from hitrack.web.forms import Form
from hitrack.web.signed_in import fresh_login_required, login_required, me

bp = Blueprint("account", __name__, url_prefix="/account")
TOKENS_PER_PAGE = 50


def token_policy() -> accounts.TokenPolicy:
    return accounts.TokenPolicy(
        default_days=settings().token_lifetime_days, max_days=settings().token_max_lifetime_days
    )


class TokenForm(Form):
    name = StringField("Label", validators=[Length(max=100)])
    days = IntegerField("Expires after (days)", validators=[Optional(), NumberRange(min=1)])


class PasswordForm(Form):
    current_password = PasswordField("Current password", validators=[DataRequired()])
    new_password = new_password_field()
    repeat = repeat_field("new_password")


class RevokeForm(Form):
    pass


def _page(form: TokenForm | None = None, *, new_token: str | None = None) -> str:
    before = request.args.get("before", type=int)
    tokens = accounts.list_tokens(db(), me(), before=before, limit=TOKENS_PER_PAGE)
    older = tokens[-1].id if len(tokens) == TOKENS_PER_PAGE else None
    if form is None:
        form = TokenForm(formdata=None, days=settings().token_lifetime_days)
    return render_template(
        "account/index.html",
        form=form,
        revoke_form=RevokeForm(),
        tokens=tokens,
        older=older,
        new_token=new_token,
        policy=token_policy(),
    )


@bp.get("")
@login_required
def index() -> str:
    return _page()


@bp.route("/tokens", methods=["GET", "POST"])
@fresh_login_required
def create_token() -> ResponseReturnValue:
    if request.method == "GET":  # where a fresh log-in returns to
        return redirect(url_for("account.index"))
    form = TokenForm()
    if form.validate_on_submit():
        try:
            issued = accounts.create_token(
                db(), me(), policy=token_policy(), days=form.days.data, name=form.name.data
            )
        except HitrackError as error:
            form.form_errors.append(error.message)
            return _page(form), 422
        # Shown once, on this page only: only its digest is kept.
        return _page(new_token=issued.token)
    return _page(form), 422


@bp.post("/tokens/<int:token_id>/revoke")
@login_required
def revoke_token(token_id: int) -> ResponseReturnValue:
    if not RevokeForm().validate_on_submit():
        flash("The form expired; try again.", "error")
        return redirect(url_for("account.index"))
    row = accounts.revoke_token(db(), me(), token_id)
    flash(f"Token {row.name or row.id} is revoked.", "success")
    return redirect(url_for("account.index"))


@bp.route("/password", methods=["GET", "POST"])
@fresh_login_required
def password() -> ResponseReturnValue:
    form = PasswordForm()
    if form.validate_on_submit():
        try:
            accounts.change_password(
                db(), me(), current=form.current_password.data, new=form.new_password.data
            )
        except HitrackError as error:
            form.form_errors.append(error.message)
            return render_template("account/password.html", form=form), 422
        # This session signs again with the new generation; every other one has ended.
        remembered = request.cookies.get(
            current_app.config.get("REMEMBER_COOKIE_NAME", "remember_token")
        )
        login_user(me(), remember=bool(remembered), fresh=True)
        flash(
            "Your password is changed. Other sessions are signed out and API tokens revoked.",
            "success",
        )
        return redirect(url_for("account.index"))
    return render_template("account/password.html", form=form), (422 if form.errors else 200)
