"""Sign-up, log-in, log-out pages; how a request is tied to a creator."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, Response, flash, g, redirect, render_template, request, url_for
from flask_login import current_user, login_required, login_user, logout_user
from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, PasswordField, StringField
from wtforms.validators import DataRequired, Length

from hitrack.db.models import Creator
from hitrack.domain.errors import AuthenticationFailed, HitrackError
from hitrack.services import accounts
from hitrack.web.context import db, settings
from hitrack.web.extensions import limiter, login_manager

bp = Blueprint("auth", __name__)
login_manager.login_view = "auth.login"
login_manager.login_message_category = "error"


@login_manager.user_loader
def _load_user(user_id: str) -> Creator | None:
    return db().get(Creator, int(user_id)) if user_id.isdigit() else None


@login_manager.request_loader
def _load_from_bearer(req) -> Creator | None:  # type: ignore[no-untyped-def]
    header = req.headers.get("Authorization", "")
    if not header.startswith("Bearer "):
        return None
    creator = accounts.creator_for_token(db(), header[len("Bearer ") :].strip())
    if creator is not None:
        g.auth_via = "bearer"
    return creator


def safe_next(target: str | None) -> str | None:
    """``target`` if it is a path on this site, else None (no open redirects)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return None
    return target


def login_limit() -> str:
    return settings().login_rate_limit


def count_failure(response: Response) -> bool:
    """Only failed attempts count toward the log-in rate limit."""
    return response.status_code == 401


class SignupForm(FlaskForm):
    display_name = StringField("Display name", validators=[DataRequired(), Length(max=120)])
    email = EmailField("E-mail", validators=[DataRequired(), Length(max=254)])
    password = PasswordField(
        "Password", validators=[DataRequired(), Length(min=accounts.MIN_PASSWORD_LENGTH)]
    )


class LoginForm(FlaskForm):
    email = EmailField("E-mail", validators=[DataRequired()])
    password = PasswordField("Password", validators=[DataRequired()])
    remember = BooleanField("Keep me signed in")


@bp.route("/signup", methods=["GET", "POST"])
def signup() -> Response | str | tuple[str, int]:
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
        return redirect(url_for("pages.home"))
    return render_template("auth/signup.html", form=form), (422 if form.errors else 200)


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(login_limit, methods=["POST"], deduct_when=count_failure)
def login() -> Response | str | tuple[str, int]:
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
def logout() -> Response:
    logout_user()
    flash("You are signed out.", "success")
    return redirect(url_for("pages.home"))


@bp.app_context_processor
def _inject_user() -> dict[str, object]:
    return {"me": current_user if current_user.is_authenticated else None}
