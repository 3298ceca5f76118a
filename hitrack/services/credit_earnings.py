"""What a credit's escrow earned, each part with its explanation.

An unclaimed credit's money is stored per event (:class:`~hitrack.db.models.CreditEarning`)
when the event settles. The invitee sees it on the claim page before claiming,
and the claimant on "credits I hold" afterwards: every part with the sentence
that says why ("as sound mixer on Night Swim, through 25% credit pool"),
written by the one renderer (:func:`hitrack.services.explanations.explain_credit_earning`).

Lists are bounded (the newest :data:`MAX_EXPLAINED` parts): an explanation is
computed on demand, and a page must not grow with an escrow's history.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from hitrack.db.models import Creator, Credit, CreditEarning
from hitrack.services.explanations import explain_credit_earning

__all__ = ["MAX_EXPLAINED", "EscrowEarning", "escrow_earnings"]

#: The newest escrow parts listed (and explained) on one page.
MAX_EXPLAINED = 20


@dataclass(frozen=True)
class EscrowEarning:
    """One event's part paid into a credit's escrow, and why."""

    credit: Credit
    event_id: str
    currency: str
    amount: int
    lines: list[str]


def escrow_earnings(
    db: Session, credits: Sequence[Credit], viewer: Creator | None
) -> list[EscrowEarning]:
    """The newest escrow parts of ``credits`` (newest first), explained for ``viewer``.

    Read only. One query for the parts; each listed part is explained on the
    graph its event settled on.
    """
    by_id = {c.id: c for c in credits}
    if not by_id:
        return []
    earnings = db.scalars(
        select(CreditEarning)
        .where(CreditEarning.credit_id.in_(sorted(by_id)))
        .options(selectinload(CreditEarning.event))
        .order_by(CreditEarning.id.desc())
        .limit(MAX_EXPLAINED)
    )
    return [
        EscrowEarning(
            credit=by_id[e.credit_id],
            event_id=e.event.external_id,
            currency=e.event.currency,
            amount=e.amount,
            lines=explain_credit_earning(db, e.event, by_id[e.credit_id], viewer),
        )
        for e in earnings
    ]
