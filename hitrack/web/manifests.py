"""A model's manifest uploaded as a file (page and API): stored, then checked by a job.

Both answer at once with the job: the page redirects to ``/jobs/<id>``, the
API returns 202 with the job; the job's page and ``GET /api/v1/jobs/{id}``
show its progress, then the new version or every refused row.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_wtf.file import FileField, FileRequired
from wtforms import StringField
from wtforms.validators import DataRequired, Length

from hitrack.domain.errors import HitrackError, InvalidInput
from hitrack.services import ai_models, manifests
from hitrack.web.api import auth_required
from hitrack.web.api_jobs import job_json
from hitrack.web.context import db, job_queue, settings, storage
from hitrack.web.forms import Form
from hitrack.web.guards import takes_upload
from hitrack.web.openapi import WORK_ID, object_schema, operation, ref, register_paths, text
from hitrack.web.signed_in import actor, login_required, me

bp = Blueprint("manifests", __name__)
api = Blueprint("manifests", __name__)  # nested under /api/v1 by hitrack.web.api_v1


class ManifestForm(Form):
    version = StringField("Version", validators=[DataRequired(), Length(max=40)])
    retained = StringField("Operator's retained share", default="0", validators=[Length(max=40)])
    attribution_weight = StringField("Attribution weight λ", validators=[Length(max=40)])
    file = FileField("Manifest file (CSV or JSON lines)", validators=[FileRequired()])


def _submit(public_id: str, fields: dict[str, Any], upload: Any) -> Any:
    return manifests.submit_manifest(
        db(),
        job_queue(),
        storage(),
        me(),
        public_id,
        upload.stream,
        version=fields.get("version"),
        retained=fields.get("retained") or "0",
        attribution_weight=fields.get("attribution_weight"),
        max_bytes=settings().max_upload_bytes,
    )


@bp.route("/models/<public_id>/manifest", methods=["GET", "POST"])
@takes_upload
@login_required
def upload_page(public_id: str) -> ResponseReturnValue:
    model = ai_models.get_model(db(), actor(), public_id)
    form = ManifestForm()
    if form.validate_on_submit():
        try:
            job = _submit(model.public_id, form.data, form.file.data)
        except HitrackError as error:
            form.form_errors.append(error.message)
            return render_template("models/manifest.html", form=form, model=model), 422
        return redirect(url_for("jobs.show", job_id=job.public_id))
    return render_template("models/manifest.html", form=form, model=model), (
        422 if form.errors else 200
    )


@api.post("/models/<public_id>/manifest")
@takes_upload
@auth_required
def upload_api(public_id: str) -> tuple[Response, int]:
    model = ai_models.get_model(db(), actor(), public_id)
    upload = request.files.get("file")
    if upload is None:
        raise InvalidInput("file: the manifest file is required (multipart/form-data)")
    job = _submit(model.public_id, dict(request.form), upload)
    return jsonify(job_json(job)), 202


register_paths(
    {
        "/api/v1/models/{public_id}/manifest": {
            "post": operation(
                "Upload a manifest file for a new model version; a job checks and registers it",
                tag="models",
                operation_id="uploadModelManifest",
                ok=202,
                params=[WORK_ID],
                errors=(401, 403, 404, 409, 413, 422),
                multipart=object_schema(
                    ["file", "version"],
                    file={
                        "type": "string",
                        "format": "binary",
                        "minLength": 1,
                        "description": "CSV (record id or sha256, weight) or JSON lines "
                        '({"record" or "sha256", "weight"}), one training record per row',
                    },
                    version=text(40),
                    retained=text(40, required=False),
                    attribution_weight=text(40, required=False),
                ),
                encoding={"file": {"contentType": "text/csv, application/x-ndjson, text/plain"}},
                response=ref("Job"),
                description="Every refused row (malformed, unknown, listed twice, no AI-training "
                "consent of its owners or subjects) is named in the job's error, and then "
                "nothing is stored.",
            )
        }
    }
)
