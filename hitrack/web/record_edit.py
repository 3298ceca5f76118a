"""Owners edit, hide and delete their records; thumbnails served to the lists.

Pages: ``/works/<id>/edit`` (title, description, tags), ``POST
/works/<id>/hide`` and ``POST /works/<id>/delete``. API: ``PATCH`` and
``DELETE /api/v1/records/{id}``, ``PUT /api/v1/records/{id}/hidden``. The
rules are :mod:`hitrack.services.record_edit`'s; views parse, call, render.
"""

from __future__ import annotations

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
from flask.typing import ResponseReturnValue
from wtforms import StringField, TextAreaField
from wtforms.validators import DataRequired, Length

from hitrack.domain.errors import HitrackError, InvalidInput, NotFound, PermissionDenied
from hitrack.services import record_edit
from hitrack.services.graph import visible_work
from hitrack.web.api import auth_required, body, work_json
from hitrack.web.context import db, storage
from hitrack.web.forms import Form
from hitrack.web.openapi import WORK_ID, object_schema, operation, ref, register_paths, text
from hitrack.web.signed_in import actor, login_required, me

pages = Blueprint("record_edit", __name__)
api = Blueprint("record_edit", __name__)  # nested under /api/v1 by hitrack.web.api_v1


class EditForm(Form):
    title = StringField("Title", validators=[DataRequired(), Length(max=200)])
    description = TextAreaField("Description", validators=[Length(max=5000)])
    tags = StringField("Tags (comma-separated)", validators=[Length(max=1000)])


class ActionForm(Form):
    """A button with its CSRF token."""


@pages.route("/works/<public_id>/edit", methods=["GET", "POST"])
@login_required
def edit(public_id: str) -> ResponseReturnValue:
    work = visible_work(db(), me(), public_id)
    if work.kind != "record":
        raise NotFound(f"record {work.public_id} not found", ids=(work.public_id,))
    if not work.is_owned_by(me().id):
        raise PermissionDenied(f"only the owners of {work.public_id} edit it")
    form = EditForm(
        data={
            "title": work.title,
            "description": work.description,
            "tags": ", ".join(work.tags or []),
        }
    )
    if form.validate_on_submit():
        try:
            record_edit.edit_record(
                db(),
                me(),
                public_id,
                record_edit.RecordEdit(form.title.data, form.description.data, form.tags.data),
            )
        except HitrackError as error:
            form.form_errors.append(error.message)
        else:
            flash("Saved.", "success")
            return redirect(url_for("pages.work", public_id=public_id))
    return render_template("records/edit.html", work=work, form=form, action_form=ActionForm()), (
        422 if form.errors or form.form_errors else 200
    )


@pages.post("/works/<public_id>/hide")
@login_required
def hide(public_id: str) -> ResponseReturnValue:
    form = ActionForm()
    if not form.validate_on_submit():
        abort(400)
    hidden = request.form.get("hidden") != "0"
    record_edit.set_hidden(db(), me(), public_id, hidden)
    flash("Hidden from the lists." if hidden else "Shown in the lists again.", "success")
    return redirect(url_for("pages.work", public_id=public_id))


@pages.post("/works/<public_id>/delete")
@login_required
def delete(public_id: str) -> ResponseReturnValue:
    form = ActionForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        record_edit.delete_record(db(), storage(), me(), public_id)
    except HitrackError as error:
        if isinstance(error, NotFound):
            raise
        flash(error.message, "error")
        return redirect(url_for("record_edit.edit", public_id=public_id))
    flash(f"Record {public_id} deleted.", "success")
    return redirect(url_for("pages.home"))


@pages.get("/works/<public_id>/thumbnail")
def thumbnail(public_id: str) -> Response:
    work = visible_work(db(), actor(), public_id)
    if not work.thumbnail_key:
        raise NotFound(f"{work.public_id} has no thumbnail", ids=(work.public_id,))
    with storage().open(work.thumbnail_key) as stream:
        data = stream.read()
    response = Response(data, content_type="image/jpeg")
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "private, max-age=3600"
    return response


# --- JSON --------------------------------------------------------------------------------


@api.patch("/records/<public_id>")
@auth_required
def patch_record(public_id: str) -> Response:
    visible_work(db(), me(), public_id)  # an unknown record answers 404 before its body is read
    data = body()
    unknown = set(data) - {"title", "description", "tags"}
    if unknown:
        raise InvalidInput(f"unknown fields: {', '.join(sorted(unknown))}")
    work = record_edit.edit_record(
        db(),
        me(),
        public_id,
        record_edit.RecordEdit(data.get("title"), data.get("description"), data.get("tags")),
    )
    return jsonify(work_json(work, me()))


@api.put("/records/<public_id>/hidden")
@auth_required
def put_hidden(public_id: str) -> Response:
    visible_work(db(), me(), public_id)
    data = body()
    if set(data) != {"hidden"} or not isinstance(data["hidden"], bool):
        raise InvalidInput('expected {"hidden": true or false}')
    return jsonify(work_json(record_edit.set_hidden(db(), me(), public_id, data["hidden"]), me()))


@api.delete("/records/<public_id>")
@auth_required
def delete_record(public_id: str) -> tuple[str, int]:
    record_edit.delete_record(db(), storage(), me(), public_id)
    return "", 204


_TAGS: dict[str, Any] = {"type": "array", "maxItems": 20, "items": text(40)}

register_paths(
    {
        "/api/v1/records/{public_id}": {
            "patch": operation(
                "Owners change a record's title, description or tags",
                tag="records",
                operation_id="editRecord",
                params=[WORK_ID],
                body=object_schema(
                    [], title=text(200), description=text(5000, required=False), tags=_TAGS
                ),
                response=ref("Work"),
                errors=(401, 403, 404, 422),
            ),
            "delete": operation(
                "Owners delete a record nothing cites, names, paid or matched (else hide it)",
                tag="records",
                operation_id="deleteRecord",
                params=[WORK_ID],
                ok=204,
                errors=(401, 403, 404, 409, 422),
            ),
        },
        "/api/v1/records/{public_id}/hidden": {
            "put": operation(
                "Owners hide a record from the lists, or show it again (the graph keeps it)",
                tag="records",
                operation_id="hideRecord",
                params=[WORK_ID],
                body=object_schema(["hidden"], hidden={"type": "boolean"}),
                response=ref("Work"),
                errors=(401, 403, 404, 422),
            )
        },
    }
)
