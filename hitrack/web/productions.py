"""Pages for productions and their payment proposals, AI models, notifications and the TDM policy."""

from __future__ import annotations

from datetime import timedelta
from fractions import Fraction
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
from flask_wtf.file import FileField
from wtforms import BooleanField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length

from hitrack.domain.errors import Conflict, HitrackError, InvalidInput, PermissionDenied
from hitrack.domain.shares import format_share
from hitrack.services import ai_models, notifications, records
from hitrack.services import productions as prod
from hitrack.services.graph import visible_ids
from hitrack.web.context import db, mailer, settings, storage
from hitrack.web.forms import Form
from hitrack.web.guards import takes_upload
from hitrack.web.signed_in import actor, is_signed_in, login_required, me

bp = Blueprint("productions", __name__)

CONTRIBUTION_ROWS = 6


def window() -> timedelta:
    return timedelta(days=settings().proposal_window_days)


@bp.app_context_processor
def _unread_notifications() -> dict[str, object]:
    if not is_signed_in():
        return {}
    return {"unread_notifications": notifications.unread_count(db(), me())}


# --- Forms -----------------------------------------------------------------------


class ProductionForm(Form):
    title = StringField("Title", validators=[DataRequired(), Length(max=200)])
    description = TextAreaField("Description", validators=[Length(max=5000)])
    file = FileField("Final media (optional)")


class PublishForm(Form):
    retained = StringField(
        "Your retained share", default="0", validators=[DataRequired(), Length(max=40)]
    )
    note = TextAreaField("Note to contributors (optional)", validators=[Length(max=2000)])


class CommentForm(Form):
    body = TextAreaField("Comment", validators=[DataRequired(), Length(max=5000)])
    objection = BooleanField("File this as an objection to the split")


class AnswerForm(Form):
    answer = TextAreaField("Your answer", validators=[Length(max=5000)])


class FinalizeForm(Form):
    confirm_open_objections = BooleanField("Finalize over the open objections")


class CancelForm(Form):
    reason = StringField("Reason (optional)", validators=[Length(max=2000)])


class ActionForm(Form):
    """A button that only needs the CSRF token."""


class ModelForm(Form):
    name = StringField("Model name", validators=[DataRequired(), Length(max=200)])
    description = TextAreaField("Description", validators=[Length(max=5000)])
    version = StringField("Version", default="1", validators=[DataRequired(), Length(max=40)])
    retained = StringField("Operator's retained share", default="0", validators=[Length(max=40)])
    attribution_weight = StringField(
        "Attribution weight λ", default="0", validators=[Length(max=40)]
    )
    manifest = TextAreaField("Training manifest", validators=[DataRequired()])


def _contribution_rows() -> list[tuple[str, str, str]]:
    form = request.form
    return [
        (w.strip(), r.strip(), s.strip())
        for w, r, s in zip(
            form.getlist("contribution_work"),
            form.getlist("contribution_role"),
            form.getlist("contribution_share"),
            strict=False,
        )
    ]


def _contributions(rows: list[tuple[str, str, str]]) -> list[prod.ContributionInput]:
    return prod.parse_contributions(
        [{"work": w, "share": s, "credit_role": r} for w, r, s in rows if w or s or r]
    )


def _padded(rows: list[tuple[str, str, str]]) -> list[tuple[str, str, str]]:
    return list(rows) + [("", "", "")] * max(0, CONTRIBUTION_ROWS - len(rows))


def _parse_manifest(text: str) -> dict[str, str]:
    """One line per entry: a record id or a SHA-256, then optionally a weight (default 1)."""
    manifest: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        parts = line.replace(",", " ").split()
        if not parts:
            continue
        if len(parts) > 2:
            raise InvalidInput(f"manifest line {number}: expected a record id or hash and a weight")
        if parts[0] in manifest:
            raise InvalidInput(
                f"manifest line {number}: {parts[0]} is listed twice", ids=(parts[0],)
            )
        manifest[parts[0]] = parts[1] if len(parts) == 2 else "1"
    return manifest


# --- Productions -----------------------------------------------------------------


@bp.route("/productions")
def index() -> str:
    mine = prod.productions_of(db(), me()) if actor() else []
    recent = records.recent_works(db(), actor(), kind="production", limit=50)
    return render_template("productions/index.html", mine=mine, recent=recent)


@bp.route("/productions/new", methods=["GET", "POST"])
@takes_upload
@login_required
def new() -> ResponseReturnValue:
    form = ProductionForm()
    rows = (
        _contribution_rows()
        if request.method == "POST"
        else [(s, "", "") for s in request.args.getlist("source")]
    )
    if form.validate_on_submit():
        upload = form.file.data if form.file.data and form.file.data.filename else None
        try:
            work = prod.create_production(
                db(),
                me(),
                title=form.title.data,
                description=form.description.data,
                contributions=_contributions(rows),
                storage=storage() if upload else None,
                stream=upload.stream if upload else None,
                filename=upload.filename if upload else "",
                max_bytes=settings().max_upload_bytes,
            )
        except HitrackError as error:
            form.form_errors.append(error.message)
            return _form_page("productions/new.html", form=form, rows=rows), 422
        flash("Draft production created. Publish the split when it is ready.", "success")
        return redirect(url_for("productions.show", public_id=work.public_id))
    return _form_page("productions/new.html", form=form, rows=rows), (422 if form.errors else 200)


def _form_page(template: str, **context: Any) -> str:
    return render_template(
        template, rows=_padded(context.pop("rows")), roles=prod.CREDIT_ROLES, **context
    )


@bp.route("/productions/<public_id>")
def show(public_id: str) -> str:
    view = prod.production_view(db(), actor(), public_id)
    return render_template(
        "productions/show.html",
        view=view,
        work=view.production,
        comment_form=CommentForm(),
        action_form=ActionForm(),
        answer_form=AnswerForm(),
        open_objections=[c for c in view.comments if c.is_open_objection],
        is_producer=actor() is not None and view.production.created_by_id == me().id,
    )


@bp.route("/productions/<public_id>/edit", methods=["GET", "POST"])
@login_required
def edit(public_id: str) -> ResponseReturnValue:
    work = prod.get_production(db(), actor(), public_id)
    if work.created_by_id != me().id:
        producer = work.created_by.display_name if work.created_by else "its producer"
        raise PermissionDenied(
            f"Only {producer}, the producer of “{work.title}”, edits its split. "
            "You can read the proposal and comment on it on the production's page.",
            ids=(work.public_id,),
        )
    form = ActionForm()
    if request.method == "POST":
        rows = _contribution_rows()
        if form.validate_on_submit():
            try:
                prod.set_contributions(db(), me(), public_id, _contributions(rows))
            except HitrackError as error:
                form.form_errors.append(error.message)
            else:
                flash("Split saved. Publish it to propose it to the contributors.", "success")
                return redirect(url_for("productions.edit", public_id=public_id))
        return _edit_page(work, form, rows), 422
    return _edit_page(work, form, _saved_rows(work)), 200


def _share_text(share: Fraction) -> str:
    return format_share(share)


def _saved_rows(work: Any) -> list[tuple[str, str, str]]:
    return [(c.source.public_id, c.credit_role or "", _share_text(c.share)) for c in work.sources]


def _edit_page(
    work: Any,
    form: ActionForm,
    rows: list[tuple[str, str, str]],
    publish_form: PublishForm | None = None,
) -> str:
    """The edit page; a refused publish form comes back as typed (its note is not lost)."""
    retained = _share_text(work.retained_share)
    return _form_page(
        "productions/edit.html",
        work=work,
        form=form,
        rows=rows,
        publish_form=publish_form or PublishForm(data={"retained": retained}),
        cancel_form=CancelForm(),
    )


@bp.route("/productions/<public_id>/publish", methods=["POST"])
@login_required
def publish(public_id: str) -> ResponseReturnValue:
    form = PublishForm()
    if not form.validate_on_submit():
        if "csrf_token" in form.errors:
            abort(400)  # a forged form
        if form.retained.errors:
            form.retained.errors = ["State your retained share (e.g. 0 or 0.1)."]
        work = prod.get_production(db(), actor(), public_id)
        return _edit_page(work, ActionForm(), _saved_rows(work), form), 422
    try:
        revision = prod.publish_proposal(
            db(),
            me(),
            public_id,
            window=window(),
            retained=form.retained.data,
            note=form.note.data,
            mailer=mailer(),
        )
    except HitrackError as error:
        work = prod.get_production(db(), actor(), public_id)
        form.form_errors.append(error.message)
        status = 409 if isinstance(error, Conflict) else 422
        return _edit_page(work, ActionForm(), _saved_rows(work), form), status
    flash(f"Revision {revision.number} published; the contributors have been notified.", "success")
    return redirect(url_for("productions.show", public_id=public_id))


@bp.route("/productions/<public_id>/comments", methods=["POST"])
@login_required
def comment(public_id: str) -> ResponseReturnValue:
    form = CommentForm()
    if not form.validate_on_submit():
        flash("Write a comment first.", "error")
    else:
        try:
            prod.add_comment(
                db(),
                me(),
                public_id,
                form.body.data,
                objection=bool(form.objection.data),
                mailer=mailer(),
            )
        except HitrackError as error:
            flash(error.message, "error")
        else:
            flash("Objection filed." if form.objection.data else "Comment posted.", "success")
    return redirect(url_for("productions.show", public_id=public_id) + "#comments")


@bp.route("/productions/<public_id>/objections/<int:comment_id>/answer", methods=["POST"])
@login_required
def answer_objection(public_id: str, comment_id: int) -> ResponseReturnValue:
    form = AnswerForm()
    if not form.validate_on_submit():
        abort(400)
    resolve = request.form.get("action") == "resolve"
    try:
        prod.answer_objection(
            db(), me(), public_id, comment_id, form.answer.data, resolve=resolve, mailer=mailer()
        )
    except HitrackError as error:
        flash(error.message, "error")
    else:
        flash("Objection resolved." if resolve else "Answer posted.", "success")
    return redirect(url_for("productions.show", public_id=public_id) + f"#comment-{comment_id}")


@bp.route("/productions/<public_id>/finalize", methods=["GET", "POST"])
@login_required
def finalize(public_id: str) -> ResponseReturnValue:
    """Finalize; with objections still open, a page lists them and asks to confirm first."""
    work = prod.get_production(db(), actor(), public_id)
    form = FinalizeForm()
    if request.method == "POST":
        if not form.validate_on_submit():
            abort(400)
        try:
            prod.finalize(
                db(),
                me(),
                public_id,
                confirm_open_objections=bool(form.confirm_open_objections.data),
                mailer=mailer(),
            )
        except HitrackError as error:
            flash(error.message, "error")
        else:
            flash("The split is final. This production can now earn.", "success")
            return redirect(url_for("productions.show", public_id=public_id))
    if work.created_by_id != me().id:
        return redirect(url_for("productions.show", public_id=public_id))
    still_open = prod.open_objections(db(), work)
    if not still_open and request.method == "POST":
        return redirect(url_for("productions.show", public_id=public_id))
    return render_template("productions/finalize.html", work=work, objections=still_open, form=form)


@bp.route("/productions/<public_id>/cancel", methods=["POST"])
@login_required
def cancel(public_id: str) -> ResponseReturnValue:
    form = CancelForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        prod.cancel(db(), me(), public_id, reason=form.reason.data, mailer=mailer())
    except HitrackError as error:
        flash(error.message, "error")
    else:
        flash("Production cancelled.", "success")
    return redirect(url_for("productions.show", public_id=public_id))


# --- Models ----------------------------------------------------------------------


@bp.route("/models")
def models() -> str:
    mine = ai_models.models_of(db(), me()) if actor() else []
    recent = records.recent_works(db(), actor(), kind="model", limit=50)
    return render_template("models/index.html", mine=mine, recent=recent)


@bp.route("/models/new", methods=["GET", "POST"])
@login_required
def new_model() -> ResponseReturnValue:
    return _register_page(None)


@bp.route("/models/<public_id>/versions/new", methods=["GET", "POST"])
@login_required
def new_version(public_id: str) -> ResponseReturnValue:
    return _register_page(ai_models.get_model(db(), actor(), public_id))


def _register_page(earlier: Any) -> ResponseReturnValue:
    form = ModelForm()
    if request.method == "GET" and earlier is not None:
        form = ModelForm(
            data={
                "name": earlier.title,
                "description": earlier.description,
                "attribution_weight": _share_text(earlier.attribution_weight),
                "retained": _share_text(earlier.retained_share),
                "manifest": "\n".join(
                    f"{c.source.public_id} {_share_text(c.share)}" for c in earlier.sources
                ),
            }
        )
    if form.validate_on_submit():
        try:
            fields = {
                "version": form.version.data,
                "manifest": _parse_manifest(form.manifest.data),
                "retained": form.retained.data,
                "attribution_weight": form.attribution_weight.data,
                "name": form.name.data,
                "description": form.description.data,
                "storage": storage(),
            }
            if earlier is None:
                result = ai_models.register_model(db(), me(), **fields)
            else:
                result = ai_models.register_version(db(), me(), earlier.public_id, **fields)
        except HitrackError as error:
            form.form_errors.append(error.message)
            return render_template("models/new.html", form=form, earlier=earlier), 422
        message = f"Model registered with {len(result.matched)} records."
        if result.unmatched_hashes:
            message += f" {len(result.unmatched_hashes)} hashes matched no record: " + ", ".join(
                h[:12] + "…" for h in result.unmatched_hashes
            )
        flash(message, "success" if not result.unmatched_hashes else "warning")
        return redirect(url_for("productions.model", public_id=result.model.public_id))
    return render_template("models/new.html", form=form, earlier=earlier), (
        422 if form.errors else 200
    )


@bp.route("/models/<public_id>")
def model(public_id: str) -> str:
    view = ai_models.model_view(db(), actor(), public_id)
    records = {line.record.id for line in view.manifest}
    return render_template(
        "models/show.html",
        view=view,
        work=view.model,
        hidden=records - visible_ids(db(), actor(), records),
        is_operator=view.model.is_owned_by(me().id if actor() else None),
    )


# --- Notifications ---------------------------------------------------------------


@bp.route("/notifications")
@login_required
def notifications_page() -> str:
    return render_template(
        "notifications.html", items=notifications.notifications_for(db(), me()), form=ActionForm()
    )


@bp.route("/notifications/read", methods=["POST"])
@login_required
def read_notifications() -> ResponseReturnValue:
    if not ActionForm().validate_on_submit():
        abort(400)
    notifications.mark_all_read(db(), me())
    return redirect(url_for("productions.notifications_page"))


# --- Text and data mining (W3C TDMRep) -------------------------------------------


@bp.route("/.well-known/tdmrep.json")
def tdmrep() -> Response:
    policy = url_for("productions.tdm_policy", _external=True)
    return jsonify(
        [
            {"location": "/works/*/media", "tdm-reservation": 1, "tdm-policy": policy},
            {"location": "/api/v1/records/*/media", "tdm-reservation": 1, "tdm-policy": policy},
        ]
    )


@bp.route("/policies/ai-training")
def tdm_policy() -> str:
    return render_template("models/tdm_policy.html")
