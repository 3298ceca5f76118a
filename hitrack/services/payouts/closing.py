"""Ending a run: finished, awaiting manual marks, or failed with its reason; runs whose process stopped are failed."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from hitrack.db.models import (
    Payout,
    PayoutRun,
)
from hitrack.services.payouts.core import SETTLE_GRACE, _now
from hitrack.services.unit_of_work import discard, unit_of_work


def _skipped(run: PayoutRun) -> list[dict[str, object]]:
    raw = run.summary.get("skipped")
    return [dict(item) for item in raw if isinstance(item, dict)] if isinstance(raw, list) else []


def _summary(db: Session, run: PayoutRun) -> dict[str, object]:
    counts: dict[str, int] = {}
    amounts: dict[str, dict[str, int]] = {}
    # Added up in Python: a run's total need not fit in 64 bits.
    for status, currency, amount in db.execute(
        select(Payout.status, Payout.currency, Payout.amount).where(Payout.run_id == run.id)
    ):
        counts[status] = counts.get(status, 0) + 1
        per_currency = amounts.setdefault(status, {})
        per_currency[currency] = per_currency.get(currency, 0) + int(amount)
    summary: dict[str, object] = {"counts": counts, "amounts": amounts}
    if _skipped(run):
        summary["skipped"] = _skipped(run)
    return summary


def finish_run(db: Session, run: PayoutRun, *, now: datetime | None = None) -> PayoutRun:
    """Close the run with its summary: counts and amounts per status and currency."""
    summary = _summary(db, run)
    with unit_of_work(db):
        run.summary = summary
        counts = summary["counts"]
        run.status = (
            "awaiting" if isinstance(counts, dict) and counts.get("pending") else "finished"
        )
        run.finished_at = _now(now)
    return run


def refresh_summary(db: Session, run: PayoutRun) -> None:
    """An ended run's summary follows its payouts as they settle later (a mark, a webhook).

    Called inside the caller's transaction. An ``awaiting`` run with nothing
    pending left is ``finished``; a running run is summed up when it ends.
    """
    if run.status == "running":
        return
    db.flush()
    summary = _summary(db, run)
    run.summary = summary
    counts = summary["counts"]
    if run.status == "awaiting" and isinstance(counts, dict) and not counts.get("pending"):
        run.status = "finished"


def fail_run(db: Session, run: PayoutRun, reason: str, *, now: datetime | None = None) -> PayoutRun:
    """End a run that stopped half-way as ``failed`` with ``reason`` (its payouts keep their states).

    Pending payouts of a failed run are settled by :func:`reconcile` like any others.
    """
    discard(db)  # what the failed step left behind
    summary = _summary(db, run)
    with unit_of_work(db):
        run.summary = summary
        run.status = "failed"
        run.failure_reason = reason[:1000]
        run.finished_at = _now(now)
    return run


def _close_interrupted_runs(db: Session, provider: str, now: datetime) -> None:
    """Runs still ``running`` that made no progress for SETTLE_GRACE: their process died."""
    cutoff = now - SETTLE_GRACE
    active = (
        select(Payout.id).where(Payout.run_id == PayoutRun.id, Payout.updated_at > cutoff).exists()
    )
    stale = list(
        db.scalars(
            select(PayoutRun).where(
                PayoutRun.provider == provider,
                PayoutRun.status == "running",
                PayoutRun.started_at <= cutoff,
                ~active,
            )
        )
    )
    for run in stale:
        fail_run(
            db,
            run,
            f"interrupted: no progress for {int(SETTLE_GRACE.total_seconds() // 60)} minutes "
            "(the process running it stopped); its pending payouts are reconciled",
            now=now,
        )
