"""Manual payouts: an admin marks each one paid or failed; the run as a CSV for the bank."""

from __future__ import annotations

from sqlalchemy.orm import Session

from hitrack.db.models import (
    Creator,
    Payout,
)
from hitrack.domain.errors import Conflict, InvalidInput, NotFound
from hitrack.domain.money import (
    to_minor_units,
)
from hitrack.payments.base import (
    TransferOutcome,
    TransferResult,
)
from hitrack.payments.manual import ManualPayout
from hitrack.payments.manual import export_csv as manual_csv
from hitrack.services.notifications import Mailer
from hitrack.services.payouts.accounts import payout_account
from hitrack.services.payouts.core import require_admin
from hitrack.services.payouts.queries import get_run
from hitrack.services.payouts.results import apply_result


def mark_manual(
    db: Session,
    admin: Creator,
    payout_id: int,
    *,
    paid: bool,
    note: str = "",
    mailer: Mailer | None = None,
) -> Payout:
    """An admin marks a manual payout paid (posts the hold) or failed (voids it)."""
    require_admin(admin, "mark payouts")
    payout = db.get(Payout, payout_id)
    if payout is None:
        raise NotFound(f"no payout {payout_id}", ids=(str(payout_id),))
    if payout.run.provider != "manual":
        raise InvalidInput(
            "only manual payouts are marked by hand; the provider settles the others"
        )
    if payout.status != "pending":
        raise Conflict(f"payout {payout_id} is already {payout.status}", ids=(str(payout_id),))
    note = " ".join(note.split())[:300]
    if paid:
        result = TransferResult(
            TransferOutcome.SENT,
            f"manual:{payout.id}",
            f"paid by hand, marked by {admin.display_name}" + (f": {note}" if note else ""),
        )
    else:
        if not note:
            raise InvalidInput("say why the payout failed")
        result = TransferResult(TransferOutcome.FAILED, None, note)
    return apply_result(db, payout, result, mailer=mailer)


def export_run_csv(db: Session, admin: Creator, run_id: str) -> str:
    """The run's pending manual payouts as the CSV an admin pays from."""
    require_admin(admin, "export payout runs")
    run = get_run(db, run_id)
    if run.provider != "manual":
        raise InvalidInput("only manual runs are exported; the provider pays the others")
    rows = []
    for payout in run.payouts:
        if payout.status != "pending":
            continue
        account = payout_account(db, payout.creator_id, "manual")
        rows.append(
            ManualPayout(
                payee=payout.creator.display_name,
                method=account.details if account else "",
                amount_minor=to_minor_units(payout.amount, payout.currency),
                currency=payout.currency.lower(),
                reference=payout.idempotency_key,
            )
        )
    return manual_csv(rows)
