"""How a work settles, on its page and over the API: seen by all, chosen by its owners and admins.

``PUT /api/v1/works/{id}/settlement-mode`` with ``{"mode": "immediate" |
"period" | null}`` (null: the default for its kind and size); the work and
model pages show the mode and, to those who may choose, a form posting to
``/works/{id}/settlement-mode``.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, abort, flash, jsonify, redirect, request, url_for
from flask.typing import ResponseReturnValue

from hitrack.db.models import SETTLEMENT_MODES, Work
from hitrack.domain.errors import InvalidInput
from hitrack.services import settlement_modes
from hitrack.services.graph import visible_work
from hitrack.web.api import auth_required, body
from hitrack.web.context import db, settings
from hitrack.web.forms import Form
from hitrack.web.openapi import WORK_ID, nullable, object_schema, operation, ref, register_paths
from hitrack.web.signed_in import actor, login_required, me

pages = Blueprint("settlement_modes", __name__)
api = Blueprint("settlement_modes", __name__)  # nested under /api/v1 by hitrack.web.api_v1


class ModeForm(Form):
    """The mode chooser's CSRF token (the mode is read from the form's ``mode``)."""


def setting_json(setting: settlement_modes.SettlementSetting) -> dict[str, Any]:
    return {"work": setting.work, "mode": setting.mode, "chosen": setting.chosen}


@pages.app_context_processor
def _settlement_helpers() -> dict[str, object]:
    """``settlement_of(work)`` for the work and model pages: the mode and who may choose it."""

    def settlement_of(work: Work) -> dict[str, object]:
        setting = settlement_modes.settlement_setting(
            db(), work, period_min_sources=settings().period_settlement_min_sources
        )
        return {
            "setting": setting,
            "may_choose": settlement_modes.may_choose(actor(), work),
            "form": ModeForm(),
            "modes": SETTLEMENT_MODES,
        }

    return {"settlement_of": settlement_of}


@pages.post("/works/<public_id>/settlement-mode")
@login_required
def choose(public_id: str) -> ResponseReturnValue:
    work = visible_work(db(), actor(), public_id)
    if not ModeForm().validate_on_submit():
        abort(400)
    try:
        setting = settlement_modes.set_settlement_mode(
            db(),
            me(),
            work.public_id,
            request.form.get("mode") or None,
            period_min_sources=settings().period_settlement_min_sources,
        )
    except InvalidInput as error:
        flash(error.message, "error")
    else:
        flash(
            f"It settles {'per event' if setting.mode == 'immediate' else 'per settlement period'}"
            + (" (its default)." if setting.is_default else "."),
            "success",
        )
    target = "models.show" if work.kind == "model" else "pages.work"
    return redirect(url_for(target, public_id=work.public_id) + "#settlement-mode")


@api.get("/works/<public_id>/settlement-mode")
def get_mode(public_id: str) -> Response:
    work = visible_work(db(), actor(), public_id)
    return jsonify(
        setting_json(
            settlement_modes.settlement_setting(
                db(), work, period_min_sources=settings().period_settlement_min_sources
            )
        )
    )


@api.put("/works/<public_id>/settlement-mode")
@auth_required
def put_mode(public_id: str) -> Response:
    visible_work(db(), actor(), public_id)  # an unknown work is a 404 before the body is read
    data = body()
    unknown = set(data) - {"mode"}
    if unknown:
        raise InvalidInput(f"unknown fields: {', '.join(sorted(unknown))}")
    if "mode" not in data:
        raise InvalidInput("mode: give immediate, period, or null for the default")
    setting = settlement_modes.set_settlement_mode(
        db(),
        me(),
        public_id,
        data["mode"],
        period_min_sources=settings().period_settlement_min_sources,
    )
    return jsonify(setting_json(setting))


_MODE = {"enum": list(SETTLEMENT_MODES)}

register_paths(
    {
        "/api/v1/works/{public_id}/settlement-mode": {
            "get": operation(
                "How the work settles: per event (immediate) or per settlement period",
                tag="works",
                operation_id="getSettlementMode",
                auth=False,
                params=[WORK_ID],
                response=ref("SettlementMode"),
                errors=(404,),
            ),
            "put": operation(
                "Choose how the work settles (its owners, a model's operator, admins)",
                tag="works",
                operation_id="putSettlementMode",
                description="`mode` null returns the work to its default: per event, or per "
                "period for a model with many sources. Events already waiting for a period "
                "settle when the next period closes.",
                params=[WORK_ID],
                body=object_schema(["mode"], mode=nullable(_MODE)),
                response=ref("SettlementMode"),
                errors=(401, 403, 404, 422),
            ),
        }
    },
    {
        "SettlementMode": object_schema(
            ["work", "mode", "chosen"],
            closed=False,
            work={"type": "string"},
            mode=_MODE,
            chosen=nullable(_MODE),
        )
    },
)
