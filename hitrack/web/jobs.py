"""The job page: status and a progress bar, refreshed while the job runs."""

from __future__ import annotations

from flask import Blueprint, render_template

from hitrack.services import jobs
from hitrack.web.context import db
from hitrack.web.signed_in import login_required, me

bp = Blueprint("jobs", __name__)


@bp.get("/jobs/<job_id>")
@login_required
def show(job_id: str) -> str:
    job = jobs.visible_job(db(), me(), job_id)
    return render_template("jobs/show.html", job=job)
