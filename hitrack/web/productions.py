"""Pages for productions and their payment proposals."""

from __future__ import annotations

from datetime import timedelta
from fractions import Fraction
from typing import Any

from flask import (
    Blueprint,
    abort,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_wtf.file import FileField
from wtforms import BooleanField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length

from hitrack.domain.errors import Conflict, HitrackError, PermissionDenied
from hitrack.domain.shares import format_share
from hitrack.services import cover_art, records, search
from hitrack.services import productions as prod
from hitrack.web.context import db, mailer, settings, storage
from hitrack.web.forms import ActionForm, Form
from hitrack.web.guards import takes_upload
from hitrack.web.signed_in import actor, login_required, me

bp = Blueprint("productions", __name__)

CONTRIBUTION_ROWS = 6


def window() -> timedelta:
    return timedelta(days=settings().proposal_window_days)


# --- Forms -----------------------------------------------------------------------


class ProductionForm(Form):
    title = StringField("Title", validators=[DataRequired(), Length(max=200)])
    description = TextAreaField("Description", validators=[Length(max=5000)])
    file = FileField("Final media (optional)")


class CoverForm(Form):
    file = FileField("Cover image (PNG, JPEG, GIF or WebP)")


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
        [
            {"work": search.resolve_source(db(), w), "share": s, "credit_role": r}
            for w, r, s in rows
            if w or s or r
        ]
    )


def _padded(rows: list[tuple[str, str, str]]) -> list[tuple[str, str, str]]:
    return list(rows) + [("", "", "")] * max(0, CONTRIBUTION_ROWS - len(rows))


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
        cover_form=CoverForm(),
        open_objections=[c for c in view.comments if c.is_open_objection],
        is_producer=actor() is not None and view.production.created_by_id == me().id,
    )


@bp.route("/productions/<public_id>/cover", methods=["POST"])
@takes_upload
@login_required
def cover(public_id: str) -> ResponseReturnValue:
    """The producer uploads a cover image; a refused file is said on the page, nothing changed."""
    prod.get_production(db(), actor(), public_id)  # an unknown production is a 404 first
    form = CoverForm()
    if not form.validate_on_submit():
        abort(400)
    upload = form.file.data
    if upload is None or not hasattr(upload, "stream"):
        flash("Choose an image file for the cover.", "error")
        return redirect(url_for("productions.show", public_id=public_id))
    try:
        cover_art.set_cover(
            db(), storage(), me(), public_id, upload.stream, max_bytes=settings().max_upload_bytes
        )
    except PermissionDenied:
        raise
    except HitrackError as error:
        flash(error.message, "error")
    else:
        flash("Cover saved.", "success")
    return redirect(url_for("productions.show", public_id=public_id))


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
