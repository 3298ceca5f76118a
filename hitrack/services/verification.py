"""Verified creators: whose identity a payout provider or an admin has verified.

DESIGN section 1: only verified creators are paid or claim credits. A
verification is a row (:class:`~hitrack.db.models.CreatorVerification`) with
its source, reason, who and when, never a flag parsed from prose. The payout
provider verifies a creator when their connected account becomes payable
(``account.updated``, :func:`verify_from_provider`); for manual payouts an
admin verifies with a recorded reason (:func:`verify_by_admin`). Unverified
creators keep their balances; payout runs pass them by until they are verified.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from hitrack.db.models import Creator, CreatorVerification
from hitrack.domain.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from hitrack.services.unit_of_work import unit_of_work

__all__ = [
    "is_verified",
    "verified_ids",
    "verification_of",
    "verify_from_provider",
    "verify_with_payout_method",
    "verify_by_admin",
]


def verification_of(db: Session, creator_id: int) -> CreatorVerification | None:
    """The creator's first verification, or None."""
    return db.scalar(
        select(CreatorVerification)
        .where(CreatorVerification.creator_id == creator_id)
        .order_by(CreatorVerification.id)
        .limit(1)
    )


def is_verified(db: Session, creator_id: int) -> bool:
    return verification_of(db, creator_id) is not None


def verified_ids(db: Session, creator_ids: Iterable[int]) -> set[int]:
    """Which of ``creator_ids`` are verified, in one query."""
    ids = list(set(creator_ids))
    if not ids:
        return set()
    return set(
        db.scalars(
            select(CreatorVerification.creator_id).where(CreatorVerification.creator_id.in_(ids))
        )
    )


def _record(
    db: Session,
    creator_id: int,
    source: str,
    reason: str,
    by: int | None,
    now: datetime | None,
) -> None:
    if is_verified(db, creator_id):
        return
    row = CreatorVerification(
        creator_id=creator_id, source=source, reason=reason, verified_by_id=by
    )
    if now is not None:
        row.created_at = now
    db.add(row)


def verify_from_provider(
    db: Session, creator_id: int, provider: str, *, now: datetime | None = None
) -> None:
    """Record that the payout provider verified the creator (no commit; once per creator).

    Called from the provider's account status handling when the account
    becomes payable; the caller's transaction commits it.
    """
    _record(
        db,
        creator_id,
        "stripe",
        f"{provider} verified the identity of the connected payout account",
        None,
        now,
    )


def verify_with_payout_method(db: Session, creator_id: int, admin_id: int) -> None:
    """An admin who confirms a creator's manual payout method has verified them (no commit)."""
    _record(db, creator_id, "admin", "the admin verified the manual payout method", admin_id, None)


def verify_by_admin(
    db: Session, admin: Creator, handle: object, reason: object
) -> CreatorVerification:
    """An admin verifies a creator (for manual payouts) with a recorded reason.

    Refused for a non-admin, an unknown creator, an empty reason or a creator
    already verified; nothing changes then.
    """
    if not admin.is_admin:
        raise PermissionDenied("only an admin verifies creators")
    if not isinstance(handle, str) or not handle.strip():
        raise InvalidInput("creator: required")
    creator = db.scalar(select(Creator).where(Creator.handle == handle.strip()))
    if creator is None:
        raise NotFound(f"creator {handle.strip()} not found", ids=(handle.strip(),))
    if not isinstance(reason, str) or not reason.strip():
        raise InvalidInput("reason: say how the identity was verified")
    if len(reason.strip()) > 2000:
        raise InvalidInput("reason: at most 2000 characters")
    existing = verification_of(db, creator.id)
    if existing is not None:
        raise Conflict(
            f"creator {creator.handle} is already verified ({existing.source})",
            ids=(creator.handle,),
        )
    with unit_of_work(db):
        row = CreatorVerification(
            creator_id=creator.id, source="admin", reason=reason.strip(), verified_by_id=admin.id
        )
        db.add(row)
    return row
