"""Creator profiles (``/@handle``), following, the feed, notification settings and opening.

Also the one way templates name a person: the ``profile_url`` filter and the
``creator_link`` macro of ``_creator.html``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask.blueprints import BlueprintSetupState
from flask.typing import ResponseReturnValue

from hitrack.db.models import Creator
from hitrack.domain.errors import HitrackError
from hitrack.services import follows, notifications, profiles
from hitrack.web.api import creator_json
from hitrack.web.context import db
from hitrack.web.forms import Form
from hitrack.web.openapi import object_schema, operation, path_param, ref, register_paths
from hitrack.web.signed_in import actor, login_required, me

bp = Blueprint("profiles", __name__)
api = Blueprint("profiles", __name__)  # nested under /api/v1 by hitrack.web.api_v1


class ActionForm(Form):
    """A button that only needs the CSRF token."""


def profile_url(creator: Creator | None) -> str:
    return url_for("profiles.show", handle=creator.handle) if creator is not None else ""


@bp.record_once
def _filters(state: BlueprintSetupState) -> None:
    state.app.jinja_env.filters["profile_url"] = profile_url
    state.app.jinja_env.globals["follows_work"] = lambda work: follows.is_following(
        db(), actor(), work_id=work.id
    )


@bp.route("/@<handle>")
def show(handle: str) -> str:
    view = profiles.profile(db(), actor(), handle)
    return render_template(
        "profiles/show.html",
        view=view,
        form=ActionForm(),
        is_me=actor() is not None and me().id == view.creator.id,
    )


@bp.route("/@<handle>/follow", methods=["POST"])
@login_required
def follow(handle: str) -> ResponseReturnValue:
    return _follow_action(url_for("profiles.show", handle=handle), creator=handle)


@bp.route("/works/<public_id>/follow", methods=["POST"])
@login_required
def follow_work(public_id: str) -> ResponseReturnValue:
    return _follow_action(url_for("pages.work", public_id=public_id), work=public_id)


def _follow_action(
    back: str, *, creator: str | None = None, work: str | None = None
) -> ResponseReturnValue:
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        if request.form.get("action") == "unfollow":
            follows.unfollow(db(), me(), creator=creator, work=work)
            flash("Unfollowed.", "success")
        else:
            follows.follow(db(), me(), creator=creator, work=work)
            flash("Following. Their news is in your feed.", "success")
    except HitrackError as error:
        flash(error.message, "error")
    return redirect(back)


@bp.route("/feed")
@login_required
def feed() -> str:
    before: datetime | None = None
    raw = request.args.get("before", "")
    if raw:
        try:
            before = datetime.fromisoformat(raw)
        except ValueError:
            abort(404)
    items = follows.feed(db(), me(), before=before)
    return render_template("profiles/feed.html", items=items)


@bp.route("/settings/notifications", methods=["GET", "POST"])
@login_required
def settings_page() -> ResponseReturnValue:
    form = ActionForm()
    if request.method == "POST":
        if not form.validate_on_submit():
            abort(400)
        choices = {
            kind: (
                request.form.get(f"in_app_{kind}") == "on",
                request.form.get(f"email_{kind}") == "on",
            )
            for kind in notifications.KINDS
        }
        notifications.set_preferences(db(), me(), choices)
        profiles.set_show_models(db(), me(), request.form.get("show_models") == "on")
        flash("Settings saved.", "success")
        return redirect(url_for("profiles.settings_page"))
    return render_template(
        "profiles/settings.html", form=form, prefs=notifications.preferences_for(db(), me())
    )


@bp.route("/notifications/<int:notification_id>/open", methods=["POST"])
@login_required
def open_notification(notification_id: int) -> ResponseReturnValue:
    if not ActionForm().validate_on_submit():
        abort(400)
    url = notifications.open_notification(db(), me(), notification_id)
    # Only our own paths: a notification's url is always one, but never redirect elsewhere.
    if not url or not url.startswith("/") or url.startswith("//"):
        url = url_for("notifications.index")
    return redirect(url)


# --- API -------------------------------------------------------------------------


def _work_line(work: Any) -> dict[str, Any]:
    return {"id": work.public_id, "kind": work.kind, "title": work.title}


@api.get("/creators/<handle>")
def api_creator(handle: str) -> Response:
    view = profiles.profile(db(), actor(), handle)
    data: dict[str, Any] = {
        **creator_json(view.creator),
        "url": url_for("profiles.show", handle=view.creator.handle),
        "followers": view.followers,
        "works": [_work_line(w) for w in view.works],
        "credits": [
            {"work": c.work.public_id, "title": c.work.title, "role": c.role} for c in view.credits
        ],
        "productions": [_work_line(w) for w in view.productions],
    }
    if view.models is not None:
        data["models"] = [_work_line(w) for w in view.models]
    return jsonify(data)


_LINE = object_schema(
    ["id", "kind", "title"],
    id={"type": "string"},
    kind={"type": "string"},
    title={"type": "string"},
)

register_paths(
    {
        "/api/v1/creators/{handle}": {
            "get": operation(
                "A creator's public profile: works, credits held, productions (and the models "
                "trained on their works, if they show them)",
                tag="creators",
                operation_id="getCreator",
                auth=False,
                params=[
                    path_param(
                        "handle",
                        "the creator's handle",
                        {
                            "type": "string",
                            "minLength": 1,
                            "maxLength": 64,
                            "pattern": "^[a-z0-9-]+$",
                        },
                    )
                ],
                response=ref("Profile"),
                errors=(404,),
            )
        }
    },
    {
        "Profile": object_schema(
            ["id", "display_name", "works", "credits", "productions"],
            closed=False,
            id={"type": "string"},
            display_name={"type": "string"},
            url={"type": "string"},
            followers={"type": "integer", "minimum": 0},
            works={"type": "array", "items": _LINE},
            credits={
                "type": "array",
                "items": object_schema(
                    ["work", "title", "role"],
                    work={"type": "string"},
                    title={"type": "string"},
                    role={"type": "string"},
                ),
            },
            productions={"type": "array", "items": _LINE},
            models={"type": "array", "items": _LINE},
        )
    },
)
