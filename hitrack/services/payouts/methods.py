"""Manual payout methods: a creator submits one, an admin records or verifies it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from hitrack.db.models import (
    Creator,
    PayoutAccount,
    PayoutAccountState,
)
from hitrack.domain.errors import InvalidInput
from hitrack.services import verification
from hitrack.services.notifications import notify
from hitrack.services.payouts.accounts import payout_account
from hitrack.services.payouts.core import PAYOUTS_PATH, _admin_ids, _creator, _now, require_admin
from hitrack.services.unit_of_work import unit_of_work


def _clean_details(details: object) -> str:
    if not isinstance(details, str) or not details.strip():
        raise InvalidInput(
            "payout method: describe where to pay (bank account, IBAN, PayPal address)"
        )
    text = " ".join(details.split())
    if len(text) > 500:
        raise InvalidInput("payout method: at most 500 characters")
    return text


def _set_manual_method(
    db: Session, creator: Creator, details: str, *, verified_by: Creator | None, now: datetime
) -> PayoutAccount:
    row = payout_account(db, creator.id, "manual")
    if row is None:
        row = PayoutAccount(
            creator_id=creator.id, provider="manual", provider_account_id=f"manual:{creator.id}"
        )
        db.add(row)
    if row.details != details or verified_by is not None:
        row.details = details
        # New details are unverified until an admin checks them: a stolen
        # session cannot redirect payouts to an attacker's account.
        row.state = (
            PayoutAccountState.PAYABLE if verified_by is not None else PayoutAccountState.ONBOARDING
        )
        row.verified_by_id = verified_by.id if verified_by else None
        row.status_reason = (
            f"verified by {verified_by.display_name}"
            if verified_by
            else "awaiting admin verification"
        )
        row.updated_at = now
        if verified_by is not None:
            verification.verify_with_payout_method(db, creator.id, verified_by.id)
    return row


def submit_manual_method(
    db: Session, creator: Creator, details: object, *, now: datetime | None = None
) -> PayoutAccount:
    """A creator enters (or changes) their payout method; it waits for an admin to verify it."""
    text = _clean_details(details)
    with unit_of_work(db):
        row = _set_manual_method(db, creator, text, verified_by=None, now=_now(now))
        notify(
            db,
            [i for i in _admin_ids(db) if i != creator.id],
            "payout_method",
            f"{creator.display_name} entered a payout method to verify",
            "/admin/payouts",
            None,
        )
    return row


def record_manual_method(
    db: Session,
    admin: Creator,
    handle: str,
    details: object,
    *,
    verified: bool = True,
    now: datetime | None = None,
) -> PayoutAccount:
    """An admin records a creator's payout method, verified by that admin unless ``verified=False``."""
    require_admin(admin, "record payout methods")
    text = _clean_details(details)
    creator = _creator(db, handle)
    with unit_of_work(db):
        row = _set_manual_method(
            db, creator, text, verified_by=admin if verified else None, now=_now(now)
        )
    return row


def verify_manual_method(
    db: Session, admin: Creator, handle: str, *, now: datetime | None = None
) -> PayoutAccount:
    """An admin confirms the payout method a creator entered."""
    require_admin(admin, "verify payout methods")
    creator = _creator(db, handle)
    row = payout_account(db, creator.id, "manual")
    if row is None or not row.details:
        raise InvalidInput(f"{creator.display_name} has no payout method to verify", ids=(handle,))
    with unit_of_work(db):
        _set_manual_method(db, creator, row.details, verified_by=admin, now=_now(now))
        notify(
            db, [creator.id], "payout_method", "Your payout method was verified", PAYOUTS_PATH, None
        )
    return row
