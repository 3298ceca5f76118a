"""Text and data mining reservation (W3C TDMRep): the machine-readable file crawlers fetch,
and the human-readable AI training policy it points to."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, render_template, url_for

bp = Blueprint("tdm", __name__)


@bp.route("/.well-known/tdmrep.json")
def tdmrep() -> Response:
    policy = url_for("tdm.policy", _external=True)
    return jsonify(
        [
            {"location": "/works/*/media", "tdm-reservation": 1, "tdm-policy": policy},
            {"location": "/api/v1/records/*/media", "tdm-reservation": 1, "tdm-policy": policy},
        ]
    )


@bp.route("/policies/ai-training")
def policy() -> str:
    return render_template("models/tdm_policy.html")
