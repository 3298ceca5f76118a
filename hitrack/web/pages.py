"""Server-rendered pages: home, upload and remix, a work, its graph, consent."""

from __future__ import annotations

from contextlib import suppress
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
from flask_wtf.file import FileField, FileRequired
from wtforms import BooleanField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length

from hitrack.domain.errors import HitrackError, InvalidInput
from hitrack.provenance.c2pa_io import SIGNABLE_TYPES
from hitrack.services import calls, records, search, work_links
from hitrack.services import graph as graph_service
from hitrack.services import media as media_service
from hitrack.web.context import credentials_reader, db, settings, storage
from hitrack.web.forms import Form
from hitrack.web.graph_view import graph_view
from hitrack.web.guards import takes_upload
from hitrack.web.media import media_response
from hitrack.web.paging import link_pages
from hitrack.web.signed_in import actor, login_required, me

bp = Blueprint("pages", __name__)

SOURCE_ROWS = 6


@bp.record_once
def _private_title(state: BlueprintSetupState) -> None:
    """What templates call a cited work the viewer may not see."""
    state.app.jinja_env.globals["private_title"] = graph_service.PRIVATE_TITLE


class UploadForm(Form):
    title = StringField("Title", validators=[DataRequired(), Length(max=200)])
    description = TextAreaField("Description", validators=[Length(max=5000)])
    file = FileField("Media file (audio, video, image or text)", validators=[FileRequired()])
    visibility = SelectField(
        "Visibility",
        choices=[SelectChoice("public", "Public"), SelectChoice("private", "Private (only you)")],
    )
    consent_remix = BooleanField("Others may remix this record", default=True)
    consent_ai_training = BooleanField("This record may be used to train AI models", default=False)


class ConsentForm(Form):
    consent_remix = BooleanField("Others may remix this record")
    consent_ai_training = BooleanField("This record may be used to train AI models")


class CiteForm(Form):
    source = StringField("Source work id", validators=[DataRequired(), Length(max=64)])
    share = StringField("Share (e.g. 0.25 or 1/3)", validators=[DataRequired(), Length(max=40)])


def _source_rows() -> list[tuple[str, str]]:
    """The (work id, share) rows of the remix part of the upload form, as typed."""
    ids = request.form.getlist("source_id")
    shares = request.form.getlist("source_share")
    return [(w.strip(), s.strip()) for w, s in zip(ids, shares, strict=False)]


def _sources(rows: list[tuple[str, str]]) -> dict[str, str]:
    sources: dict[str, str] = {}
    for typed, share in rows:
        if typed or share:
            work_id = search.resolve_source(db(), typed)  # a title or "Title (id)" too
            if work_id in sources:
                raise InvalidInput(f"source {work_id} is listed twice", ids=(work_id,))
            sources[work_id] = share
    return sources


@bp.route("/")
def home() -> str:
    works = records.recent_works(db(), actor())
    return render_template("home.html", works=works, open_calls=calls.open_calls(db(), actor()))


@bp.route("/upload", methods=["GET", "POST"])
@takes_upload
@login_required
def upload() -> ResponseReturnValue:
    form = UploadForm()
    rows = (
        _source_rows()
        if request.method == "POST"
        else [(s, "") for s in request.args.getlist("source")]
    )
    if form.validate_on_submit():
        try:
            work = records.upload_record(
                db(),
                storage(),
                me(),
                stream=form.file.data.stream,
                filename=form.file.data.filename or "",
                title=form.title.data,
                description=form.description.data,
                consent_remix=form.consent_remix.data,
                consent_ai_training=form.consent_ai_training.data,
                visibility=form.visibility.data,
                sources=_sources(rows),
                max_bytes=settings().max_upload_bytes,
                credentials_reader=credentials_reader(),
            )
        except HitrackError as error:
            form.form_errors.append(error.message)
            return _upload_page(form, rows), 422
        flash("Your record is up.", "success")
        return redirect(url_for("pages.work", public_id=work.public_id))
    return _upload_page(form, rows), (422 if form.errors else 200)


def _upload_page(form: UploadForm, rows: list[tuple[str, str]]) -> str:
    rows = list(rows) + [("", "")] * max(0, SOURCE_ROWS - len(rows))
    titles = {}
    for work_id, _ in rows:
        if work_id:
            with suppress(HitrackError):
                titles[work_id] = graph_service.visible_work(db(), actor(), work_id).title
    return render_template(
        "upload.html", form=form, rows=rows, titles=titles, max_bytes=settings().max_upload_bytes
    )


@bp.route("/works/<public_id>")
def work(public_id: str) -> str:
    item = graph_service.visible_work(db(), actor(), public_id)
    me = actor()
    sources, cited_by = link_pages(request.args)
    links = work_links.work_links(db(), me, item, sources=sources, cited_by=cited_by)
    is_owner = item.is_owned_by(me.id if me else None)
    proposed = (item.media_provenance or {}).get("proposed_sources") or []
    consent_form = ConsentForm(
        data={"consent_remix": item.consent_remix, "consent_ai_training": item.consent_ai_training}
    )
    return render_template(
        "work.html",
        work=item,
        links=links,
        per_page=sources.per_page,
        already_cited=work_links.cited_among(
            db(), item, (p["work"] for p in proposed if isinstance(p, dict) and "work" in p)
        )
        if is_owner and isinstance(proposed, list)
        else set(),
        consent_form=consent_form,
        cite_form=CiteForm(),
        is_owner=is_owner,
        signable_types=SIGNABLE_TYPES,
        text_excerpt=media_service.text_excerpt(storage(), item.media_key)
        if item.media_key and item.media_kind == "text"
        else None,
    )


@bp.route("/works/<public_id>/media")
def media(public_id: str) -> Response:
    item = graph_service.visible_work(db(), actor(), public_id)
    return media_response(item, download=request.args.get("download") == "1")


@bp.route("/works/<public_id>/consent", methods=["POST"])
@login_required
def consent(public_id: str) -> ResponseReturnValue:
    form = ConsentForm()
    if not form.validate_on_submit():
        abort(400)
    records.set_consent(
        db(),
        me(),
        public_id,
        remix=form.consent_remix.data,
        ai_training=form.consent_ai_training.data,
    )
    flash("Consent updated.", "success")
    return redirect(url_for("pages.work", public_id=public_id))


@bp.route("/works/<public_id>/sources", methods=["POST"])
@login_required
def cite(public_id: str) -> ResponseReturnValue:
    form = CiteForm()
    if not form.validate_on_submit():
        flash("Give a source work id and a share.", "error")
        return redirect(url_for("pages.work", public_id=public_id))
    try:
        graph_service.cite(db(), me(), public_id, form.source.data.strip(), form.share.data)
    except HitrackError as error:
        flash(error.message, "error")
    else:
        flash("Source cited.", "success")
    return redirect(url_for("pages.work", public_id=public_id))


@bp.route("/works/<public_id>/graph")
def graph(public_id: str) -> str:
    item = graph_service.visible_work(db(), actor(), public_id)
    data = graph_view(db(), actor(), item)
    return render_template("graph.html", work=item, data=data)


@bp.route("/works/<public_id>/graph.json")
def graph_json(public_id: str) -> Response:
    item = graph_service.visible_work(db(), actor(), public_id)
    return jsonify(graph_view(db(), actor(), item))


@bp.route("/works")
def browse() -> str:
    kind = request.args.get("kind")
    if kind not in (None, "record", "production", "model"):
        abort(404)
    items: list[Any] = records.recent_works(db(), actor(), kind=kind, limit=100)
    return render_template("browse.html", works=items, kind=kind)


@bp.route("/favicon.ico")
def favicon() -> ResponseReturnValue:
    """Browsers and feed readers ask for /favicon.ico before reading any page's icon link."""
    return redirect(url_for("static", filename="favicon.svg"), 301)
