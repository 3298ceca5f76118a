"""Jobs over the JSON API: ``GET /api/v1/jobs/{id}`` tells status, progress, result or error."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify

from hitrack.db.models import JOB_STATUSES, Job
from hitrack.services import jobs
from hitrack.web.api import auth_required
from hitrack.web.context import db
from hitrack.web.openapi import operation, path_param, register_paths
from hitrack.web.signed_in import me

bp = Blueprint("jobs", __name__, url_prefix="/jobs")


def job_json(job: Job) -> dict[str, Any]:
    return {
        "id": job.public_id,
        "kind": job.kind,
        "status": job.status,
        "progress": {"done": job.progress_done, "total": job.progress_total},
        "message": job.message,
        "result": job.result,
        "error": job.error or None,
        "attempts": job.attempts,
        "created_at": job.created_at.isoformat(),
        "started_at": job.started_at.isoformat() if job.started_at else None,
        "finished_at": job.finished_at.isoformat() if job.finished_at else None,
    }


@bp.get("/<job_id>")
@auth_required
def get_job(job_id: str) -> Response:
    return jsonify(job_json(jobs.visible_job(db(), me(), job_id)))


_NULLABLE_TIME = {"type": ["string", "null"], "format": "date-time"}

register_paths(
    {
        "/api/v1/jobs/{job_id}": {
            "get": operation(
                "A job's status, progress and result or error (who started it, admins)",
                tag="jobs",
                operation_id="getJob",
                response={"$ref": "#/components/schemas/Job"},
                params=[
                    path_param(
                        "job_id",
                        "the job's id",
                        {"type": "string", "maxLength": 32, "pattern": "^job_[0-9a-f]{1,28}$"},
                    )
                ],
                errors=(401, 404),
            )
        }
    },
    {
        "Job": {
            "type": "object",
            "required": ["id", "kind", "status", "progress", "attempts", "created_at"],
            "properties": {
                "id": {"type": "string"},
                "kind": {"type": "string"},
                "status": {"enum": list(JOB_STATUSES)},
                "progress": {
                    "type": "object",
                    "properties": {
                        "done": {"type": "integer", "minimum": 0},
                        "total": {"type": ["integer", "null"], "minimum": 0},
                    },
                },
                "message": {"type": "string"},
                "result": {"type": ["object", "null"]},
                "error": {"type": ["string", "null"]},
                "attempts": {"type": "integer", "minimum": 0},
                "created_at": {"type": "string", "format": "date-time"},
                "started_at": _NULLABLE_TIME,
                "finished_at": _NULLABLE_TIME,
            },
        }
    },
)
