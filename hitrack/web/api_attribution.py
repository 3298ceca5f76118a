"""Attribution over HTTP: submit a model's output, read its report; the pages for both.

API (``/api/v1``): ``POST /models/{id}/outputs`` (the operator: JSON
``{"text"}`` or ``{"scores"}``, or multipart ``file``), ``GET
/models/{id}/outputs``, ``GET /outputs/{id}`` (the report) and ``GET
/me/matches``. Pages: a model's outputs with a submission form, an output's
report, and "where my works were matched". Views parse, call one service,
render.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

from flask import Blueprint, Response, flash, jsonify, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_wtf.file import FileField
from wtforms import TextAreaField

from hitrack.attribution import Signals, default_signals
from hitrack.db.models import AttributionOutput, Work
from hitrack.domain.errors import HitrackError, InvalidInput
from hitrack.domain.money import format_micros
from hitrack.domain.shares import format_share
from hitrack.services import attribution
from hitrack.services.graph import visible_work
from hitrack.web.api import auth_required, body
from hitrack.web.context import db, services, storage
from hitrack.web.forms import Form
from hitrack.web.guards import takes_upload
from hitrack.web.openapi import (
    WORK_ID,
    object_schema,
    operation,
    path_param,
    ref,
    register_paths,
    text,
)
from hitrack.web.signed_in import actor, login_required, me

api = Blueprint("attribution", __name__)
pages = Blueprint("attribution", __name__)


def signals() -> Signals:
    """The app's signals: ``extra["attribution_signals"]`` if given, else the process defaults."""
    chosen: Signals = services().extra.get("attribution_signals") or default_signals()
    return chosen


def _floor(value: Fraction) -> int:
    return value.numerator // value.denominator


# --- JSON ----------------------------------------------------------------------------


def report_json(report: attribution.OutputReport) -> dict[str, Any]:
    output, model = report.output, report.model
    return {
        "id": output.public_id,
        "url": url_for("attribution.report", output_id=output.public_id),
        "model": {
            "id": model.public_id,
            "name": model.title,
            "version": model.version,
            "attribution_weight": format_share(report.attribution_weight),
        },
        "created_at": output.created_at.isoformat(),
        "submitted": {
            "kind": output.kind,
            "type": output.content_type,
            "sha256": output.content_sha256,
            "size": output.content_size,
            "excerpt": output.excerpt,
        },
        "signal": output.signal,
        "method": output.method,
        "threshold": output.threshold,
        "attributes": report.attributes,
        "vector": {line.work.public_id: line.share for line in report.lines if line.share},
        "matches": [
            {
                "work": line.work.public_id,
                "title": line.work.title,
                "score": round(line.score, 6),
                "signal": line.signal,
                "share": line.share,
                "paid": {
                    currency: {
                        "micros": _floor(paid),
                        "exact": format_share(paid),
                        "by_attribution_micros": _floor(line.by_attribution[currency]),
                    }
                    for currency, paid in line.paid.items()
                },
            }
            for line in report.lines
        ],
        "revenue": [
            {
                "currency": currency,
                "events": report.events[currency],
                "distributable": report.distributable[currency],
            }
            for currency in sorted(report.events)
        ],
    }


def output_summary_json(output: AttributionOutput) -> dict[str, Any]:
    return {
        "id": output.public_id,
        "url": url_for("attribution.report", output_id=output.public_id),
        "kind": output.kind,
        "signal": output.signal,
        "created_at": output.created_at.isoformat(),
    }


def _submission_from_request() -> attribution.OutputSubmission:
    if request.mimetype == "multipart/form-data":
        upload = request.files.get("file")
        text = request.form.get("text")
        if upload is None and text is None:
            raise InvalidInput("give the output as multipart field 'file' (or field 'text')")
        return attribution.OutputSubmission(
            text=text,
            content=attribution.read_output_upload(upload.stream) if upload else None,
            filename=(upload.filename or "") if upload else "",
        )
    data = body()
    unknown = set(data) - {"text", "scores"}
    if unknown:
        raise InvalidInput(f"unknown fields: {', '.join(sorted(unknown))}")
    return attribution.OutputSubmission(text=data.get("text"), scores=data.get("scores"))


@api.post("/models/<public_id>/outputs")
@takes_upload
@auth_required
def submit_output(public_id: str) -> tuple[Response, int]:
    visible_work(db(), me(), public_id)  # an unknown model answers 404 before its body is read
    output = attribution.submit_output(
        db(), storage(), me(), public_id, _submission_from_request(), signals=signals()
    )
    return jsonify(report_json(attribution.output_report(db(), me(), output.public_id))), 201


@api.get("/models/<public_id>/outputs")
@auth_required
def list_outputs(public_id: str) -> Response:
    model, outputs = attribution.outputs_of_model(db(), me(), public_id)
    return jsonify({"model": model.public_id, "outputs": [output_summary_json(o) for o in outputs]})


@api.get("/outputs/<output_id>")
@auth_required
def get_output(output_id: str) -> Response:
    return jsonify(report_json(attribution.output_report(db(), me(), output_id)))


def _count_json(count: attribution.MatchCount) -> dict[str, Any]:
    return {
        "work": {"id": count.work.public_id, "title": count.work.title},
        "model": {
            "id": count.model.public_id,
            "name": count.model.title,
            "version": count.model.version,
        },
        "outputs": count.outputs,
        "latest": count.latest,
    }


@api.get("/me/matches")
@auth_required
def my_matches() -> Response:
    return jsonify(
        {"matches": [_count_json(c) for c in attribution.matches_for_creator(db(), me())]}
    )


# --- pages ---------------------------------------------------------------------------


class OutputForm(Form):
    text = TextAreaField("Output text")
    file = FileField("…or an output file (image, audio or text)")


@pages.app_context_processor
def _work_matches() -> dict[str, object]:
    def attribution_matches(work: Work) -> list[attribution.MatchCount]:
        """For the work page: in how many outputs of which models the viewer's work was matched."""
        return attribution.matched_in(db(), actor(), work)

    return {"attribution_matches": attribution_matches}


@pages.route("/models/<public_id>/outputs", methods=["GET", "POST"])
@takes_upload
@login_required
def outputs(public_id: str) -> ResponseReturnValue:
    form = OutputForm()
    status = 200
    if form.validate_on_submit():
        upload = form.file.data if form.file.data and form.file.data.filename else None
        try:
            output = attribution.submit_output(
                db(),
                storage(),
                me(),
                public_id,
                attribution.OutputSubmission(
                    text=None if upload else form.text.data,
                    content=attribution.read_output_upload(upload.stream) if upload else None,
                ),
                signals=signals(),
            )
        except HitrackError as error:
            form.form_errors.append(error.message)
            status = 422
        else:
            flash("Output attributed.", "success")
            return redirect(url_for("attribution.report", output_id=output.public_id))
    elif request.method == "POST":
        status = 422
    model, recent = attribution.outputs_of_model(db(), me(), public_id)
    return render_template(
        "attribution/outputs.html",
        model=model,
        outputs=recent,
        form=form,
        method={kind: signals().method(kind) for kind in ("text", "image", "audio")},
    ), status


@pages.route("/outputs/<output_id>")
@login_required
def report(output_id: str) -> str:
    report = attribution.output_report(db(), me(), output_id)
    return render_template("attribution/report.html", report=report, money=format_micros)


@pages.route("/me/matches")
@login_required
def matches() -> str:
    return render_template(
        "attribution/matches.html", counts=attribution.matches_for_creator(db(), me())
    )


# --- OpenAPI -------------------------------------------------------------------------

_OUTPUT_ID = path_param("output_id", "the output's id", ref("Id"))
_REPORT = {"$ref": "#/components/schemas/AttributionReport"}
_OUTPUT_JSON = {
    **object_schema(
        [],
        text=text(attribution.MAX_TEXT_CHARS, description="a text output (give text or scores)"),
        scores={
            "type": "object",
            "minProperties": 1,
            "propertyNames": ref("Id"),
            "additionalProperties": {"type": "number", "exclusiveMinimum": 0},
            "description": "the operator's own scores, record id of the manifest -> number "
            "(the server also takes negatives, as 0, while at least one is positive)",
        },
    ),
    "minProperties": 1,
    "maxProperties": 1,
}
_OUTPUT_FILE = object_schema(
    ["file"],
    file={
        "type": "string",
        "format": "binary",
        "description": f"an image, audio or text file, at most {attribution.MAX_OUTPUT_BYTES} bytes",
    },
)

register_paths(
    {
        "/api/v1/models/{public_id}/outputs": {
            "post": operation(
                "The operator submits an output: the platform scores it against the manifest "
                "and answers with its attribution report",
                tag="attribution",
                operation_id="submitOutput",
                ok=201,
                params=[WORK_ID],
                errors=(401, 403, 404, 422),
                body=_OUTPUT_JSON,
                multipart=_OUTPUT_FILE,
                response=_REPORT,
            ),
            "get": operation(
                "The operator's newest outputs of a model",
                tag="attribution",
                operation_id="listOutputs",
                params=[WORK_ID],
                errors=(401, 403, 404),
                response=object_schema(
                    ["model", "outputs"],
                    model={"type": "string"},
                    outputs={"type": "array", "items": {"type": "object"}},
                ),
            ),
        },
        "/api/v1/outputs/{output_id}": {
            "get": operation(
                "An output's attribution report (its model's operator, admins, owners of a "
                "matched work)",
                tag="attribution",
                operation_id="getOutput",
                params=[_OUTPUT_ID],
                errors=(401, 404),
                response=_REPORT,
            )
        },
        "/api/v1/me/matches": {
            "get": operation(
                "In how many outputs of which models each of your works was matched",
                tag="attribution",
                operation_id="myMatches",
                errors=(401,),
                response=object_schema(
                    ["matches"], matches={"type": "array", "items": {"type": "object"}}
                ),
            )
        },
    },
    {
        "AttributionReport": object_schema(
            ["id", "model", "signal", "attributes", "vector", "matches", "revenue"],
            id={"type": "string"},
            model={"type": "object"},
            submitted={"type": "object"},
            signal={"enum": ["text", "text-lexical", "image", "audio", "operator"]},
            method={"type": "string"},
            threshold={"type": ["number", "null"]},
            attributes={"type": "boolean", "description": "false: no confident match"},
            vector={
                "type": "object",
                "additionalProperties": {"type": "integer"},
                "description": "record id -> integer part; the parts sum to 1000000",
            },
            matches={
                "type": "array",
                "items": object_schema(
                    ["work", "score", "signal", "share", "paid"],
                    work={"type": "string"},
                    title={"type": "string"},
                    score={"type": "number"},
                    signal={"type": "string"},
                    share={"type": "integer"},
                    paid={"type": "object", "description": "currency -> what revenue paid it"},
                ),
            },
            revenue={"type": "array", "items": {"type": "object"}},
        )
    },
)
