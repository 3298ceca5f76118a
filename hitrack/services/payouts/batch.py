"""The whole payout batch: reconcile what is pending, then open, send and finish a run."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hitrack.db.models import (
    Creator,
    Payout,
    PayoutRun,
)
from hitrack.payments.base import (
    PayoutProvider,
)
from hitrack.services.notifications import Mailer
from hitrack.services.payouts.closing import fail_run, finish_run
from hitrack.services.payouts.core import _now, log
from hitrack.services.payouts.results import _problem
from hitrack.services.payouts.runs import _hold_all, _start_run, send_run
from hitrack.services.unit_of_work import read_only


def run_payouts(
    db: Session,
    provider: PayoutProvider,
    *,
    started_by: Creator | None,
    minimums: Mapping[str, int],
    mailer: Mailer | None = None,
    now: datetime | None = None,
    progress: Callable[[int, int], None] | None = None,
    run_id: str | None = None,
) -> PayoutRun:
    """Open, send and finish a run in one call; the one way to run payouts.

    ``run_id`` names the run (a job chooses it before starting, as its
    checkpoint): when a run of that id exists and is still ``running``, it is
    resumed — what was held is not held again, what was sent is reconciled,
    never sent twice; when it has ended, it is returned as it is.

    ``progress(done, total)`` is called once the payouts are held (``done``
    0) and after each one is handled. A run that crashes half-way ends
    ``failed`` with the reason (never ``running``): an ordinary error is
    recorded and the failed run returned; an interruption (``KeyboardInterrupt``,
    the process being stopped) is recorded as far as possible and re-raised.
    A run whose process died without a word is closed as failed by the next
    run or reconcile.
    """
    with read_only(db):
        existing = (
            db.scalar(select(PayoutRun).where(PayoutRun.public_id == run_id)) if run_id else None
        )
    if existing is not None and existing.status != "running":
        return existing  # it ended before (or was closed as interrupted): nothing to resume
    run = existing or _start_run(db, provider, started_by, _now(now), run_id)
    try:
        _hold_all(db, provider, run, minimums, _now(now))
        with read_only(db):
            total = db.scalar(
                select(func.count()).where(Payout.run_id == run.id, Payout.status == "pending")
            )
        done = 0
        if progress is not None:
            progress(done, int(total or 0))
        for _ in send_run(db, provider, run, mailer=mailer, now=now):
            done += 1
            if progress is not None:
                progress(done, int(total or 0))
        return finish_run(db, run, now=now)
    except Exception as error:
        log.exception("payout run %s failed", run.public_id)
        return fail_run(db, run, _problem(error), now=now)
    except BaseException as error:
        try:
            fail_run(db, run, f"interrupted: {_problem(error)}", now=now)
        except Exception:  # the database may be what went away
            log.exception("payout run %s: could not record the interruption", run.public_id)
        raise
