"""The signed-in creator's notifications: the list, marking them read, and the unread count
every page's navigation shows."""

from __future__ import annotations

from flask import Blueprint, abort, redirect, render_template, url_for
from flask.typing import ResponseReturnValue

from hitrack.services import notifications
from hitrack.web.context import db
from hitrack.web.forms import ActionForm
from hitrack.web.signed_in import is_signed_in, login_required, me

bp = Blueprint("notifications", __name__)


@bp.app_context_processor
def _unread_notifications() -> dict[str, object]:
    if not is_signed_in():
        return {}
    return {"unread_notifications": notifications.unread_count(db(), me())}


@bp.route("/notifications")
@login_required
def index() -> str:
    return render_template(
        "notifications.html", items=notifications.notifications_for(db(), me()), form=ActionForm()
    )


@bp.route("/notifications/read", methods=["POST"])
@login_required
def mark_read() -> ResponseReturnValue:
    if not ActionForm().validate_on_submit():
        abort(400)
    notifications.mark_all_read(db(), me())
    return redirect(url_for("notifications.index"))
