"""Reading payouts: runs, accounts, payouts needing attention, a creator's payouts."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from hitrack.db.models import (
    Payout,
    PayoutAccount,
    PayoutRun,
)
from hitrack.domain.errors import NotFound


def get_run(db: Session, run_id: str) -> PayoutRun:
    run = db.scalar(select(PayoutRun).where(PayoutRun.public_id == run_id))
    if run is None:
        raise NotFound(f"no payout run {run_id!r}", ids=(run_id,))
    return run


def list_runs(db: Session, *, limit: int = 50) -> list[PayoutRun]:
    return list(
        db.scalars(
            select(PayoutRun)
            .order_by(PayoutRun.started_at.desc(), PayoutRun.id.desc())
            .limit(limit)
        )
    )


def all_accounts(db: Session) -> list[PayoutAccount]:
    """Every payout account, for the admin: provider, creator, payable and why."""
    return list(
        db.scalars(select(PayoutAccount).order_by(PayoutAccount.provider, PayoutAccount.creator_id))
    )


def needing_attention(db: Session, *, limit: int = 20) -> list[Payout]:
    """Payouts that failed or came back, newest first, for the admin."""
    return list(
        db.scalars(
            select(Payout)
            .where(Payout.status.in_(("failed", "reversed")))
            .order_by(Payout.updated_at.desc(), Payout.id.desc())
            .limit(limit)
        )
    )


def payouts_for(db: Session, creator_id: int, *, limit: int = 50) -> list[Payout]:
    """The creator's payouts, newest first."""
    return list(
        db.scalars(
            select(Payout)
            .where(Payout.creator_id == creator_id)
            .order_by(Payout.created_at.desc(), Payout.id.desc())
            .limit(limit)
        )
    )
