"""Transfer results: settle a held payout exactly once as paid or failed, or keep it pending with a note."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from hitrack.db.models import (
    Payout,
)
from hitrack.domain.money import (
    format_micros,
)
from hitrack.payments.base import (
    TransferOutcome,
    TransferResult,
)
from hitrack.services import ledger
from hitrack.services.notifications import Mailer, notify
from hitrack.services.payouts.closing import refresh_summary
from hitrack.services.payouts.core import PAYOUTS_PATH
from hitrack.services.unit_of_work import set_rollback, unit_of_work


def _problem(error: BaseException) -> str:
    text = " ".join(str(error).split())[:300]
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def _note(db: Session, payout: Payout, reason: str) -> Payout:
    """Keep the payout pending with ``reason``: reconcile settles it from the provider's records."""
    with unit_of_work(db):
        payout = _lock_payout(db, payout)
        if payout.status == "pending":
            payout.failure_reason = reason[:1000]
    return payout


def _lock_payout(db: Session, payout: Payout) -> Payout:
    """The payout re-read under a row lock (PostgreSQL; SQLite serialises writers already)."""
    query = select(Payout).where(Payout.id == payout.id).execution_options(populate_existing=True)
    if db.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    return db.scalars(query).one()


def _post_paid(db: Session, payout: Payout, transfer_id: str | None) -> None:
    ledger.post_transaction(
        db,
        f"payout-paid:{payout.idempotency_key}",
        "payout_paid",
        ledger.payout_paid_postings(payout.creator_id, payout.currency, payout.amount),
        f"Payout {format_micros(payout.amount, payout.currency)} {payout.currency} sent"
        + (f" (transfer {transfer_id})" if transfer_id else ""),
    )
    payout.status, payout.provider_transfer_id, payout.failure_reason = "paid", transfer_id, ""


def apply_result(
    db: Session, payout: Payout, result: TransferResult, *, mailer: Mailer | None = None
) -> Payout:
    """Settle a pending payout from a provider answer, exactly once.

    ``SENT`` posts the hold, ``FAILED`` voids it (the money is back in the
    creator's balance), ``UNKNOWN`` keeps it pending with the provider's note.
    A payout that is no longer pending is returned unchanged.
    """
    with unit_of_work(db):
        payout = _lock_payout(db, payout)
        if payout.status != "pending":
            set_rollback(db)
            return payout
        money = f"{format_micros(payout.amount, payout.currency)} {payout.currency}"
        if result.outcome is TransferOutcome.SENT:
            _post_paid(db, payout, result.transfer_id)
            notify(
                db,
                [payout.creator_id],
                "payout_paid",
                f"Payout of {money} sent",
                PAYOUTS_PATH,
                mailer,
            )
        elif result.outcome is TransferOutcome.FAILED:
            ledger.post_transaction(
                db,
                f"payout-void:{payout.idempotency_key}",
                "payout_void",
                ledger.payout_void_postings(payout.creator_id, payout.currency, payout.amount),
                f"Payout {money} failed, back in your balance: {result.message}",
            )
            payout.status, payout.failure_reason = "failed", result.message
            payout.provider_transfer_id = result.transfer_id
            notify(
                db,
                [payout.creator_id],
                "payout_failed",
                f"Payout of {money} failed ({result.message}); the money is back in your balance",
                PAYOUTS_PATH,
                mailer,
            )
        elif payout.failure_reason != result.message:
            payout.failure_reason = result.message
        refresh_summary(db, payout.run)
    return payout
