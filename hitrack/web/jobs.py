"""The job page: status and a progress bar, refreshed while the job runs."""

from __future__ import annotations

from flask import Blueprint, render_template
from flask_login import current_user, login_required

from hitrack.services import jobs
from hitrack.web.context import db

bp = Blueprint("jobs", __name__)


@bp.get("/jobs/<job_id>")
@login_required
def show(job_id: str) -> str:
    job = jobs.visible_job(db(), current_user, job_id)  # type: ignore[arg-type]
    return render_template("jobs/show.html", job=job)
