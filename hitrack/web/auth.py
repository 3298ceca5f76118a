"""Sign-up, log-in, log-out and password-reset pages; how a request is tied to a creator.

A log-in session keeps ``Creator.get_id()``, the creator's id and session
generation; the user loader accepts it only while the generation is current,
so log-out (which raises it) ends the session on the server, not only in the
browser. Failed log-ins are throttled per client address and per account.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import timedelta
from typing import Any, TypeVar, cast
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Request,
    Response,
    flash,
    g,
    redirect,
    render_template,
    request,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_login import login_user, logout_user
from wtforms import BooleanField, EmailField, PasswordField, StringField
from wtforms.validators import DataRequired, EqualTo, Length

from hitrack.db.models import Creator
from hitrack.domain.errors import AuthenticationFailed, HitrackError
from hitrack.services import accounts
from hitrack.web.context import db, mailer, settings
from hitrack.web.extensions import limiter, login_manager
from hitrack.web.forms import Form
from hitrack.web.signed_in import is_signed_in, login_required, me

bp = Blueprint("auth", __name__)
login_manager.login_view = "auth.login"
login_manager.login_message_category = "error"
F = TypeVar("F", bound=Callable[..., Any])
# The log-in throttle reads the e-mail from a JSON body only this small; a larger
# body is refused later anyway, and must not be parsed before the caps apply.
_LARGEST_KEYED_BODY = 16 * 1024


def _load_user(session_id: str) -> Creator | None:
    creator_id, _, generation = session_id.partition(":")
    if not creator_id.isdigit() or not generation.isdigit():
        return None  # a session from before generations existed: log in again
    creator = db().get(Creator, int(creator_id))
    if creator is None or creator.session_generation != int(generation):
        return None
    return creator


def _load_from_bearer(req: Request) -> Creator | None:
    header = req.headers.get("Authorization", "")
    if not header.startswith("Bearer "):
        return None
    creator = accounts.creator_for_token(db(), header[len("Bearer ") :].strip())
    if creator is not None:
        g.auth_via = "bearer"
    return creator


login_manager.user_loader(_load_user)
login_manager.request_loader(_load_from_bearer)


def safe_next(target: str | None) -> str | None:
    """``target`` if it is a path on this site, else None (no open redirects)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return None
    return target


# --- Throttles ----------------------------------------------------------------------


def login_limit() -> str:
    return settings().login_rate_limit


def account_login_limit() -> str:
    return settings().account_login_rate_limit


def count_failure(response: Response) -> bool:
    """Only failed attempts count toward the log-in rate limits."""
    return response.status_code == 401


def account_key() -> str:
    """The throttle key of the account a request names by its ``email`` (digested)."""
    email: object = None
    if request.mimetype == "application/json":
        size = request.content_length
        if size is not None and size <= _LARGEST_KEYED_BODY:
            data = request.get_json(silent=True)
            email = data.get("email") if isinstance(data, dict) else None
    else:
        email = request.form.get("email")
    normalised = email.strip().lower() if isinstance(email, str) else ""
    return "account:" + hashlib.sha256(normalised.encode()).hexdigest()[:32]


def login_throttle(view: F) -> F:
    """Failed log-ins count against the client's address and against the account named.

    Behind a proxy the address is the client's only with ``HITRACK_TRUSTED_PROXIES``.
    """
    per_account = limiter.limit(
        account_login_limit, key_func=account_key, methods=["POST"], deduct_when=count_failure
    )
    per_address = limiter.limit(login_limit, methods=["POST"], deduct_when=count_failure)
    return cast(F, per_address(per_account(view)))


# --- Forms --------------------------------------------------------------------------


def new_password_field(label: str = "New password") -> PasswordField:
    return PasswordField(
        label, validators=[DataRequired(), Length(min=accounts.MIN_PASSWORD_LENGTH, max=1024)]
    )


def repeat_field(of: str) -> PasswordField:
    return PasswordField(
        "Repeat the new password",
        validators=[DataRequired(), EqualTo(of, message="the two passwords differ")],
    )


class SignupForm(Form):
    display_name = StringField("Display name", validators=[DataRequired(), Length(max=120)])
    email = EmailField("E-mail", validators=[DataRequired(), Length(max=254)])
    password = PasswordField(
        "Password", validators=[DataRequired(), Length(min=accounts.MIN_PASSWORD_LENGTH)]
    )


class LoginForm(Form):
    email = EmailField("E-mail", validators=[DataRequired()])
    password = PasswordField("Password", validators=[DataRequired()])
    remember = BooleanField("Keep me signed in")


class ForgotForm(Form):
    email = EmailField("E-mail", validators=[DataRequired(), Length(max=254)])


class ResetForm(Form):
    new_password = new_password_field()
    repeat = repeat_field("new_password")


# --- Pages --------------------------------------------------------------------------


@bp.route("/signup", methods=["GET", "POST"])
def signup() -> ResponseReturnValue:
    form = SignupForm()
    if form.validate_on_submit():
        try:
            creator = accounts.register(
                db(),
                email=form.email.data,
                password=form.password.data,
                display_name=form.display_name.data,
            )
        except HitrackError as error:
            form.form_errors.append(error.message)
            return render_template("auth/signup.html", form=form), 422
        login_user(creator)
        flash(f"Welcome, {creator.display_name}!", "success")
        # An invitation's claim page sends newcomers here and expects them back.
        return redirect(safe_next(request.args.get("next")) or url_for("pages.home"))
    return render_template("auth/signup.html", form=form), (422 if form.errors else 200)


@bp.route("/login", methods=["GET", "POST"])
@login_throttle
def login() -> ResponseReturnValue:
    form = LoginForm()
    if form.validate_on_submit():
        try:
            creator = accounts.authenticate(
                db(), email=form.email.data, password=form.password.data
            )
        except AuthenticationFailed as error:
            form.form_errors.append(error.message)
            return render_template("auth/login.html", form=form), 401
        login_user(creator, remember=bool(form.remember.data))
        return redirect(safe_next(request.args.get("next")) or url_for("pages.home"))
    return render_template("auth/login.html", form=form), (422 if form.errors else 200)


@bp.route("/logout", methods=["POST"])
@login_required
def logout() -> ResponseReturnValue:
    accounts.end_sessions(db(), me())
    logout_user()
    flash("You are signed out, on every device.", "success")
    return redirect(url_for("pages.home"))


RESET_SENT = (
    "If an account has this e-mail, a link to choose a new password is on its way. "
    "It works once, for {minutes} minutes."
)


@bp.route("/password/forgot", methods=["GET", "POST"])
@limiter.limit(login_limit, methods=["POST"])
@limiter.limit(account_login_limit, key_func=account_key, methods=["POST"])
def forgot_password() -> ResponseReturnValue:
    """Ask for a reset link. The answer is the same whether the address has an account or not."""
    form = ForgotForm()
    minutes = settings().password_reset_minutes
    if form.validate_on_submit():
        try:
            accounts.request_password_reset(
                db(), form.email.data, mailer=mailer(), lifetime=timedelta(minutes=minutes)
            )
        except HitrackError as error:
            form.email.errors = [error.message]
            return render_template("auth/forgot.html", form=form), 422
        return render_template(
            "auth/forgot.html", form=None, sent=RESET_SENT.format(minutes=minutes)
        )
    return render_template("auth/forgot.html", form=form), (422 if form.errors else 200)


@bp.route("/password/reset/<token>", methods=["GET", "POST"])
def reset_password(token: str) -> ResponseReturnValue:
    if not accounts.password_reset_is_open(db(), token):
        return render_template("auth/reset.html", form=None), 404
    form = ResetForm()
    if form.validate_on_submit():
        try:
            accounts.reset_password(db(), token, form.new_password.data)
        except HitrackError as error:
            form.form_errors.append(error.message)
            return render_template("auth/reset.html", form=form), 422
        if is_signed_in():
            logout_user()
        flash("Your password is changed. Log in with the new one.", "success")
        return redirect(url_for("auth.login"))
    return render_template("auth/reset.html", form=form), (422 if form.errors else 200)


@bp.app_context_processor
def _inject_user() -> dict[str, object]:
    return {"me": me() if is_signed_in() else None}
