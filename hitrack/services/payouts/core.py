"""The names every part of payouts shares: paths, keys, the admin check."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from hitrack.db.models import (
    Creator,
    PayoutRun,
)
from hitrack.domain.errors import NotFound, PermissionDenied

log = logging.getLogger("hitrack.payouts")

PAYOUTS_PATH = "/me/payouts"
#: A pending payout younger than this may still be in the middle of its
#: provider call (claimed by a run that is sending it); reconciling it then
#: could void a hold whose transfer is about to succeed.
SETTLE_GRACE = timedelta(minutes=10)
REVERSAL_KIND = "payout_reversal"


DISCONNECTED = "disconnected from hitrack at Stripe"


def payout_key(run: PayoutRun, creator_id: int, currency: str) -> str:
    """The payout's idempotency key, here and at the provider."""
    return f"{run.public_id}:{creator_id}:{currency}"


def _now(now: datetime | None) -> datetime:
    return now or datetime.now(UTC)


def require_admin(actor: Creator | None, what: str) -> None:
    if actor is None or not actor.is_admin:
        raise PermissionDenied(f"only an admin may {what}")


def _admin_ids(db: Session) -> list[int]:
    return list(db.scalars(select(Creator.id).where(Creator.role == "admin")))


def _creator(db: Session, handle: str) -> Creator:
    creator = db.scalar(select(Creator).where(Creator.handle == handle))
    if creator is None:
        raise NotFound(f"no creator {handle!r}", ids=(handle,))
    return creator
