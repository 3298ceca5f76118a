"""A payout run as a job: started by an admin, run by a worker, resumable.

The web request (or command) that starts a run only submits the job; the
job opens the run, holds each due payout, sends and settles them, reporting
progress. Its checkpoint is the run id, chosen before the run is opened, so a
worker killed half-way is followed by one that resumes the same run: payouts
already held are not held again (one per run, creator and currency), and
those already sent are reconciled with the provider, never sent twice.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hitrack.db.base import utcnow
from hitrack.db.models import Creator, Job, Payout, PayoutRun
from hitrack.jobs.base import JobQueue
from hitrack.services import jobs, payouts
from hitrack.services.unit_of_work import unit_of_work

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
    minimums = ctx.resources.settings.payout_minimum
    run_id = ctx.state.get("run")
    if not isinstance(run_id, str):
        run_id = payouts.new_run_id(utcnow())
        ctx.save_state(run=run_id)
    with ctx.sessions() as db:
        admin = db.get(Creator, ctx.created_by_id) if ctx.created_by_id is not None else None
        run = db.scalar(select(PayoutRun).where(PayoutRun.public_id == run_id))
        db.rollback()
        if run is None:
            ctx.progress(0, None, "holding due payouts")
            run = payouts.open_run(db, provider, started_by=admin, minimums=minimums, run_id=run_id)
        else:  # resumed after a lost worker: hold what was not held yet, settle what was sent
            payouts.reconcile(db, provider)
            payouts.hold_due(db, run, minimums)
        pending = _pending(db, run)
        ctx.progress(0, pending, "sending payouts")
        for done, _payout in enumerate(payouts.send_run(db, provider, run), start=1):
            ctx.progress(done, pending, "sending payouts")
        run = payouts.finish_run(db, run)
        return {"run": run.public_id, "summary": payouts.run_summary_line(run)}


def _pending(db: Session, run: PayoutRun) -> int:
    count = db.scalar(
        select(func.count()).where(Payout.run_id == run.id, Payout.status == "pending")
    )
    db.rollback()
    return int(count or 0)
