"""Open calls: the pages and the JSON API (``/api/v1/productions/{id}/calls``, ``/api/v1/calls``)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, flash, jsonify, redirect, render_template, request, url_for
from flask.blueprints import BlueprintSetupState
from flask.typing import ResponseReturnValue
from flask_wtf.file import FileField, FileRequired
from wtforms import SelectMultipleField, StringField, TextAreaField, widgets
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length

from hitrack.db.models import CallAnswer, OpenCall
from hitrack.domain.errors import HitrackError, InvalidInput
from hitrack.domain.shares import loads_json
from hitrack.services import calls
from hitrack.services import productions as prod
from hitrack.web.api import auth_required, body, creator_json
from hitrack.web.context import db, mailer, settings, storage
from hitrack.web.forms import Form
from hitrack.web.guards import takes_upload
from hitrack.web.openapi import (
    SHARE,
    WORK_ID,
    object_schema,
    operation,
    path_param,
    ref,
    register_paths,
    text,
)
from hitrack.web.signed_in import actor, login_required, me

bp = Blueprint("calls", __name__)
api = Blueprint("calls", __name__)  # nested under /api/v1 by hitrack.web.api_v1


@bp.record_once
def _template_helpers(state: BlueprintSetupState) -> None:
    """What the production page asks for: the calls of a production (its view stays as it is)."""
    state.app.jinja_env.globals["calls_of_production"] = lambda work: calls.calls_of_production(
        db(), work
    )


class CallForm(Form):
    title = StringField("What you need", validators=[DataRequired(), Length(max=200)])
    description = TextAreaField("Description", validators=[Length(max=5000)])
    deadline = StringField("Deadline (a date, e.g. 2027-01-31)", validators=[DataRequired()])
    media_kinds = SelectMultipleField(
        "Media wanted",
        choices=[SelectChoice(k, k) for k in calls.MEDIA_KINDS],
        option_widget=widgets.CheckboxInput(),
        widget=widgets.ListWidget(prefix_label=False),
    )


class AnswerForm(Form):
    title = StringField("Title", validators=[DataRequired(), Length(max=200)])
    description = TextAreaField("Description", validators=[Length(max=5000)])
    file = FileField("Your media", validators=[FileRequired()])


class PickForm(Form):
    record = StringField("Answer", validators=[DataRequired(), Length(max=64)])
    share = StringField("Share (e.g. 25% or 1/4)", validators=[DataRequired(), Length(max=40)])
    credit_role = StringField("Credit role", validators=[Length(max=80)])


class ActionForm(Form):
    """A button that only needs the CSRF token."""


def _input(form: CallForm) -> calls.CallInput:
    return calls.CallInput(
        form.title.data, form.description.data, form.deadline.data, form.media_kinds.data or []
    )


# --- Pages -----------------------------------------------------------------------


@bp.route("/productions/<public_id>/calls/new", methods=["GET", "POST"])
@login_required
def new(public_id: str) -> ResponseReturnValue:
    production = prod.get_production(db(), me(), public_id)
    form = CallForm()
    if form.validate_on_submit():
        try:
            call = calls.open_call(db(), me(), public_id, _input(form))
        except HitrackError as error:
            form.form_errors.append(error.message)
        else:
            flash("Your call is open.", "success")
            return redirect(url_for("calls.show", public_id=call.public_id))
    status = 422 if request.method == "POST" else 200
    return render_template("calls/new.html", form=form, production=production), status


@bp.route("/calls/<public_id>")
def show(public_id: str) -> str:
    view = calls.call_view(db(), actor(), public_id)
    return _show(view, AnswerForm())


def _show(view: calls.CallView, answer_form: AnswerForm) -> str:
    return render_template(
        "calls/show.html",
        view=view,
        answer_form=answer_form,
        pick_form=PickForm(),
        action_form=ActionForm(),
        is_producer=actor() is not None and view.call.created_by_id == me().id,
    )


def _context_sources() -> dict[str, str]:
    """The production's works the answer cites, each with the share typed next to it."""
    sources: dict[str, str] = {}
    for work_id, share in zip(
        request.form.getlist("source_id"), request.form.getlist("source_share"), strict=False
    ):
        if share.strip():
            sources[work_id.strip()] = share.strip()
    return sources


@bp.route("/calls/<public_id>/answers", methods=["POST"])
@takes_upload
@login_required
def answer(public_id: str) -> ResponseReturnValue:
    view = calls.call_view(db(), actor(), public_id)
    form = AnswerForm()
    if form.validate_on_submit():
        try:
            calls.answer_call(
                db(),
                storage(),
                me(),
                public_id,
                calls.AnswerUpload(
                    form.file.data.stream,
                    form.file.data.filename or "",
                    form.title.data,
                    form.description.data,
                    sources=_context_sources(),
                ),
                max_bytes=settings().max_upload_bytes,
                mailer=mailer(),
            )
        except HitrackError as error:
            form.form_errors.append(error.message)
        else:
            flash("Your answer is in. The producer has been told.", "success")
            return redirect(url_for("calls.show", public_id=public_id))
    return _show(calls.call_view(db(), actor(), view.call.public_id), form), 422


@bp.route("/calls/<public_id>/pick", methods=["POST"])
@login_required
def pick(public_id: str) -> ResponseReturnValue:
    form = PickForm()
    if not form.validate_on_submit():
        flash("Give the answer a share (e.g. 25% or 1/4).", "error")
        return redirect(url_for("calls.show", public_id=public_id))
    try:
        call_answer = calls.pick_answer(
            db(),
            me(),
            public_id,
            form.record.data,
            share=form.share.data,
            credit_role=form.credit_role.data,
            mailer=mailer(),
        )
    except HitrackError as error:
        flash(error.message, "error")
        return redirect(url_for("calls.show", public_id=public_id))
    flash("Picked: it is now part of the split. Publish the proposal when ready.", "success")
    return redirect(url_for("productions.show", public_id=call_answer.call.production.public_id))


@bp.route("/calls/<public_id>/close", methods=["POST"])
@login_required
def close(public_id: str) -> ResponseReturnValue:
    if ActionForm().validate_on_submit():
        try:
            calls.close_call(db(), me(), public_id)
        except HitrackError as error:
            flash(error.message, "error")
        else:
            flash("The call is closed.", "success")
    return redirect(url_for("calls.show", public_id=public_id))


# --- API -------------------------------------------------------------------------


def call_json(call: OpenCall, *, is_open: bool | None = None) -> dict[str, Any]:
    return {
        "id": call.public_id,
        "production": call.production.public_id,
        "production_title": call.production.title,
        "producer": creator_json(call.created_by),
        "title": call.title,
        "description": call.description,
        "media_kinds": list(call.media_kinds),
        "deadline": call.deadline.isoformat(),
        "status": call.status,
        "open": bool(is_open),
        "created_at": call.created_at.isoformat(),
        "url": url_for("calls.show", public_id=call.public_id),
    }


def answer_json(item: CallAnswer) -> dict[str, Any]:
    return {
        "record": item.record.public_id,
        "title": item.record.title,
        "media_kind": item.record.media_kind,
        "answered_by": creator_json(item.answered_by),
        "status": item.status,
        "created_at": item.created_at.isoformat(),
    }


@api.post("/productions/<public_id>/calls")
@auth_required
def api_open(public_id: str) -> tuple[Response, int]:
    prod.get_production(db(), me(), public_id)  # 404 before the body is read
    call = calls.open_call(db(), me(), public_id, calls.parse_call_input(body()))
    return jsonify(call_json(call, is_open=True)), 201


@api.get("/calls/<public_id>")
def api_get(public_id: str) -> Response:
    view = calls.call_view(db(), actor(), public_id)
    data = call_json(view.call, is_open=view.is_open)
    data["answers"] = [answer_json(a) for a in view.answers]
    return jsonify(data)


@api.post("/calls/<public_id>/answers")
@takes_upload
@auth_required
def api_answer(public_id: str) -> tuple[Response, int]:
    calls.get_call(db(), me(), public_id)
    upload = request.files.get("file")
    if upload is None:
        raise InvalidInput("file: attach the media as multipart field 'file'")
    sources = None
    if request.form.get("sources"):
        sources = loads_json(request.form["sources"])
        if not isinstance(sources, dict):
            raise InvalidInput("sources: expected a JSON object of work id -> share")
    item = calls.answer_call(
        db(),
        storage(),
        me(),
        public_id,
        calls.AnswerUpload(
            upload.stream,
            upload.filename or "",
            request.form.get("title"),
            request.form.get("description", ""),
            sources=sources,
        ),
        max_bytes=settings().max_upload_bytes,
        mailer=mailer(),
    )
    return jsonify(answer_json(item)), 201


@api.post("/calls/<public_id>/picks")
@auth_required
def api_pick(public_id: str) -> Response:
    calls.get_call(db(), me(), public_id)
    data = body()
    unknown = set(data) - {"record", "share", "credit_role"}
    if unknown:
        raise InvalidInput(f"unknown field {sorted(unknown)[0]!r}")
    item = calls.pick_answer(
        db(),
        me(),
        public_id,
        data.get("record"),
        share=data.get("share"),
        credit_role=data.get("credit_role"),
        mailer=mailer(),
    )
    return jsonify(answer_json(item))


DEADLINE_PATTERN = r"^20[2-9][0-9]-(0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])$"
CALL_ID = path_param(
    "public_id",
    "an open call's id",
    {"type": "string", "maxLength": 32, "pattern": "^c[0-9a-f]{10}$"},
)
_KINDS = {"type": "array", "items": {"enum": list(calls.MEDIA_KINDS)}, "minItems": 1, "maxItems": 4}

register_paths(
    {
        "/api/v1/productions/{public_id}/calls": {
            "post": operation(
                "Open a call for contributions on a production (its producer)",
                tag="calls",
                operation_id="openCall",
                ok=201,
                params=[WORK_ID],
                body=object_schema(
                    ["title", "deadline", "media_kinds"],
                    title=text(200),
                    description=text(5000, required=False),
                    deadline={
                        "type": "string",
                        "pattern": DEADLINE_PATTERN,
                        "description": "a date (2027-01-31: the end of that day, UTC); an "
                        "ISO date and time is accepted too. It must be in the future: a "
                        "deadline already past answers 409",
                    },
                    media_kinds=_KINDS,
                ),
                response=ref("OpenCall"),
                errors=(401, 403, 404, 409, 422),
            )
        },
        "/api/v1/calls/{public_id}": {
            "get": operation(
                "An open call and its answers",
                tag="calls",
                operation_id="getCall",
                auth=False,
                params=[CALL_ID],
                response=ref("OpenCall"),
                errors=(404,),
            )
        },
        "/api/v1/calls/{public_id}/answers": {
            "post": operation(
                "Answer a call with an upload (a record that may cite the production's works)",
                tag="calls",
                operation_id="answerCall",
                ok=201,
                params=[CALL_ID],
                multipart=object_schema(
                    ["file", "title"],
                    file={"type": "string", "format": "binary", "minLength": 1},
                    title=text(200),
                    description=text(5000, required=False),
                    sources={
                        "type": "object",
                        "description": "work id -> share, sent as a JSON part",
                        "propertyNames": ref("Id"),
                        "additionalProperties": SHARE,
                    },
                ),
                encoding={"sources": {"contentType": "application/json"}},
                response=ref("CallAnswer"),
                errors=(401, 404, 409, 413, 422),
                description="A closed call (past its deadline or closed) answers 409; an "
                "upload in a media kind the call did not ask for answers 422.",
            )
        },
        "/api/v1/calls/{public_id}/picks": {
            "post": operation(
                "Pick an answer into the production's split (the producer)",
                tag="calls",
                operation_id="pickAnswer",
                params=[CALL_ID],
                body=object_schema(
                    ["record", "share"],
                    record=ref("Id"),
                    share=SHARE,
                    credit_role=text(80, required=False),
                ),
                response=ref("CallAnswer"),
                errors=(401, 403, 404, 409, 422),
            )
        },
    },
    {
        "OpenCall": {
            "type": "object",
            "required": ["id", "production", "title", "deadline", "media_kinds", "status", "open"],
            "properties": {
                "id": {"type": "string"},
                "production": {"type": "string"},
                "production_title": {"type": "string"},
                "producer": ref("Creator"),
                "title": {"type": "string"},
                "description": {"type": "string"},
                "media_kinds": {"type": "array", "items": {"enum": list(calls.MEDIA_KINDS)}},
                "deadline": {"type": "string", "format": "date-time"},
                "status": {"enum": ["open", "closed"]},
                "open": {"type": "boolean"},
                "created_at": {"type": "string", "format": "date-time"},
                "url": {"type": "string"},
                "answers": {"type": "array", "items": ref("CallAnswer")},
            },
        },
        "CallAnswer": {
            "type": "object",
            "required": ["record", "title", "answered_by", "status"],
            "properties": {
                "record": {"type": "string"},
                "title": {"type": "string"},
                "media_kind": {"type": ["string", "null"]},
                "answered_by": ref("Creator"),
                "status": {"enum": ["answered", "picked"]},
                "created_at": {"type": "string", "format": "date-time"},
            },
        },
    },
)
