"""Pages for AI models: the catalogue, registering a model or a new version, and one model's
training manifest with the consent of every record in it."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from wtforms import StringField, TextAreaField
from wtforms.validators import DataRequired, Length

from hitrack.domain.errors import HitrackError, InvalidInput
from hitrack.domain.shares import format_share
from hitrack.services import ai_models, records
from hitrack.services.graph import visible_ids
from hitrack.web.context import db, storage
from hitrack.web.forms import Form
from hitrack.web.signed_in import actor, login_required, me

bp = Blueprint("models", __name__)


class ModelForm(Form):
    name = StringField("Model name", validators=[DataRequired(), Length(max=200)])
    description = TextAreaField("Description", validators=[Length(max=5000)])
    version = StringField("Version", default="1", validators=[DataRequired(), Length(max=40)])
    retained = StringField("Operator's retained share", default="0", validators=[Length(max=40)])
    attribution_weight = StringField(
        "Attribution weight λ", default="0", validators=[Length(max=40)]
    )
    manifest = TextAreaField("Training manifest", validators=[DataRequired()])


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


@bp.route("/models")
def index() -> str:
    mine = ai_models.models_of(db(), me()) if actor() else []
    recent = records.recent_works(db(), actor(), kind="model", limit=50)
    return render_template("models/index.html", mine=mine, recent=recent)


@bp.route("/models/new", methods=["GET", "POST"])
@login_required
def new() -> ResponseReturnValue:
    return _register_page(None)


@bp.route("/models/<public_id>/versions/new", methods=["GET", "POST"])
@login_required
def new_version(public_id: str) -> ResponseReturnValue:
    return _register_page(ai_models.get_model(db(), actor(), public_id))


def _register_page(earlier: Any) -> ResponseReturnValue:
    form = ModelForm()
    if request.method == "GET" and earlier is not None:
        # The next free version and the manifest minus records whose owners revoked
        # consent, so the form as filled in registers on the first try.
        draft = ai_models.next_version_draft(db(), actor(), earlier.public_id)
        form = ModelForm(
            data={
                "name": earlier.title,
                "description": earlier.description,
                "version": draft.version,
                "attribution_weight": format_share(earlier.attribution_weight),
                "retained": format_share(earlier.retained_share),
                "manifest": "\n".join(
                    f"{public_id} {format_share(share)}"
                    for public_id, share in draft.manifest.items()
                ),
            }
        )
        if draft.left_out:
            flash(
                "Left out of the new manifest, since their owners withdrew AI-training consent: "
                + ", ".join(record.title for record in draft.left_out),
                "warning",
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
        return redirect(url_for("models.show", public_id=result.model.public_id))
    return render_template("models/new.html", form=form, earlier=earlier), (
        422 if form.errors else 200
    )


@bp.route("/models/<public_id>")
def show(public_id: str) -> str:
    view = ai_models.model_view(db(), actor(), public_id)
    manifest_records = {line.record.id for line in view.manifest}
    return render_template(
        "models/show.html",
        view=view,
        work=view.model,
        hidden=manifest_records - visible_ids(db(), actor(), manifest_records),
        is_operator=view.model.is_owned_by(me().id if actor() else None),
    )
