"""The payout run's one bracket: start (or resume) the run, hold, send, then finish or fail it.

The holds and the sends go a batch at a time (:mod:`hitrack.services.payouts.bulk`);
the CLI, the payout-run job and the admin page all come here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from hitrack.db.models import (
    Creator,
    PayoutRun,
)
from hitrack.payments.base import (
    PayoutProvider,
)
from hitrack.services.notifications import Mailer
from hitrack.services.payouts.bulk import BATCH, MAX_WORKERS, hold_all, send_all
from hitrack.services.payouts.closing import fail_run, finish_run
from hitrack.services.payouts.core import _now, log
from hitrack.services.payouts.results import _problem
from hitrack.services.payouts.runs import _start_run
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
    batch_size: int = BATCH,
    max_workers: int = MAX_WORKERS,
) -> PayoutRun:
    """Open, send and finish a run in one call; the one way to run payouts.

    ``run_id`` names the run (a job chooses it before starting, as its
    checkpoint): when a run of that id exists and is still ``running``, it is
    resumed — what was held is not held again, what was sent is reconciled,
    never sent twice; when it has ended, it is returned as it is.

    ``progress(done, total)`` is called once the payouts are held (``done``
    0) and after each batch of ``batch_size`` is handled; ``max_workers``
    bounds the provider calls in flight at once. A run that crashes half-way ends
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
    if max_workers < 1 or batch_size < 1:
        raise ValueError("max_workers and batch_size must be at least 1")
    if existing is not None and existing.status != "running":
        return existing  # it ended before (or was closed as interrupted): nothing to resume
    run = existing or _start_run(db, provider, started_by, _now(now), run_id)
    try:
        hold_all(db, provider, run, minimums, _now(now), batch_size)
        send_all(
            db,
            provider,
            run,
            mailer=mailer,
            now=now,
            progress=progress,
            batch_size=batch_size,
            max_workers=max_workers,
        )
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


def open_run(
    db: Session,
    provider: PayoutProvider,
    *,
    started_by: Creator | None,
    minimums: Mapping[str, int],
    now: datetime | None = None,
    run_id: str | None = None,
) -> PayoutRun:
    """Start a run: record it, reconcile what earlier runs left pending, then hold every payout.

    ``started_by`` must be an admin (``None``: the system, e.g. the CLI).
    Each batch of payouts is committed with its holds before anything is sent.
    A hold that cannot be made (one creator's trouble) is recorded in the
    run's summary under ``skipped`` and the others are still held. Use
    :func:`run_payouts`, which also sends and ends a run that crashes as ``failed``.
    """
    run = _start_run(db, provider, started_by, _now(now), run_id)
    hold_all(db, provider, run, minimums, run.started_at)
    return run
