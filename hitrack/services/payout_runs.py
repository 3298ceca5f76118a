"""A payout run as a job: started by an admin, run by a worker, resumable.

The web request (or command) that starts a run only submits the job; the
job runs :func:`hitrack.services.payouts.run_payouts`, reporting progress.
Its checkpoint is the run id, chosen before the run is opened, so a worker
killed half-way is followed by one that resumes the same run: payouts
already held are not held again (one per run, creator and currency), and
those already sent are reconciled with the provider, never sent twice.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy.orm import Session

from hitrack.db.base import utcnow
from hitrack.db.models import Creator, Job
from hitrack.domain.errors import HitrackError
from hitrack.jobs.base import JobQueue
from hitrack.services import jobs, payouts
from hitrack.services.unit_of_work import read_only, unit_of_work

__all__ = ["KIND", "submit_payout_run", "payout_run_job"]

KIND = "payout_run"


def submit_payout_run(db: Session, queue: JobQueue, admin: Creator | None) -> Job:
    """Queue a payout run (admins; ``None`` is the system). Commits the job row."""
    if admin is not None:
        payouts.require_admin(admin, "start a payout run")
    with unit_of_work(db):
        return jobs.submit(db, queue, KIND, {}, actor=admin)


@jobs.job_kind(KIND)
def payout_run_job(ctx: jobs.JobContext) -> Mapping[str, Any]:
    assert ctx.resources is not None, "a payout run needs the payout provider"
    provider = ctx.resources.payout_provider()
    run_id = ctx.state.get("run")
    if not isinstance(run_id, str):
        run_id = payouts.new_run_id(utcnow())
        ctx.save_state(run=run_id)
    with ctx.sessions() as db:
        with read_only(db):
            admin = db.get(Creator, ctx.created_by_id) if ctx.created_by_id is not None else None
        ctx.progress(0, None, "holding due payouts")
        run = payouts.run_payouts(
            db,
            provider,
            started_by=admin,
            minimums=ctx.resources.settings.payout_minimum,
            run_id=run_id,
            progress=lambda done, total: ctx.progress(done, total, "sending payouts"),
        )
        summary = payouts.run_summary_line(run)
        if run.status == "failed":
            raise HitrackError(summary)
        return {"run": run.public_id, "summary": summary}
