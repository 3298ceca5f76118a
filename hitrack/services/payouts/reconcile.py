"""Reconciliation: settle pending payouts by asking the provider what became of them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from hitrack.db.models import (
    Payout,
    PayoutRun,
)
from hitrack.payments.base import (
    PayoutProvider,
    TransferOutcome,
    TransferResult,
)
from hitrack.services.notifications import Mailer
from hitrack.services.payouts.closing import _close_interrupted_runs
from hitrack.services.payouts.core import SETTLE_GRACE, _now, log
from hitrack.services.payouts.results import _note, _problem, apply_result
from hitrack.services.unit_of_work import discard, read_only


@dataclass
class ReconcileSummary:
    checked: int = 0
    paid: int = 0
    failed: int = 0
    pending: int = 0

    def __str__(self) -> str:
        return (
            f"reconciled {self.checked} pending payouts: {self.paid} paid, "
            f"{self.failed} failed, {self.pending} still pending"
        )


def reconcile(
    db: Session,
    provider: PayoutProvider,
    *,
    min_age: timedelta = SETTLE_GRACE,
    now: datetime | None = None,
    mailer: Mailer | None = None,
) -> ReconcileSummary:
    """Settle pending payouts of ``provider`` by looking their transfers up, never by resending.

    Only payouts untouched for ``min_age`` are asked about: a younger one may
    be inside a run's provider call right now. ``find_transfer`` answering
    ``None`` means the provider is certain no transfer exists: the hold is
    voided and the next run pays the balance under a new key. One payout's
    trouble (a lookup or a settlement that raises) leaves it pending with the
    reason and the others are still reconciled. Runs whose process died are
    closed as ``failed`` first.
    """
    _close_interrupted_runs(db, provider.name, _now(now))
    cutoff = _now(now) - min_age
    with read_only(db):  # each payout below is asked about, then settled, on its own
        rows = db.execute(
            select(Payout.id, PayoutRun.public_id)
            .join(PayoutRun, Payout.run_id == PayoutRun.id)
            .where(
                Payout.status == "pending",
                PayoutRun.provider == provider.name,
                Payout.updated_at <= cutoff,
            )
            .order_by(Payout.id)
        ).all()
    summary = ReconcileSummary()
    for payout_id, run_id in rows:
        with read_only(db):  # not held open while the provider is asked
            payout = db.get(Payout, payout_id)
        if payout is None:
            continue
        try:
            found = provider.find_transfer(transfer_group=run_id, payout_id=str(payout_id))
            if found is None:
                found = TransferResult(
                    TransferOutcome.FAILED, None, "the provider holds no transfer for this payout"
                )
            payout = apply_result(db, payout, found, mailer=mailer)
        except Exception as error:
            discard(db)
            log.exception("reconcile: payout %s could not be settled", payout_id)
            payout = _note(db, payout, f"reconcile failed: {_problem(error)}")
        summary.checked += 1
        if payout.status == "pending":
            summary.pending += 1
        elif payout.status == "failed":
            summary.failed += 1
        else:
            summary.paid += 1
    return summary
