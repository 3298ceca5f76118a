"""Payout accounts: connecting a Stripe account, onboarding links, refreshing its state."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, object_session

from hitrack.db.models import (
    Creator,
    PayoutAccount,
    PayoutAccountState,
)
from hitrack.domain.errors import InvalidInput
from hitrack.payments.base import PayoutAccount as ProviderAccount
from hitrack.payments.base import (
    PayoutProvider,
)
from hitrack.services import verification
from hitrack.services.payouts.core import PAYOUTS_PATH, _now
from hitrack.services.unit_of_work import unit_of_work


def payout_account(db: Session, creator_id: int, provider: str) -> PayoutAccount | None:
    """The creator's payout account with ``provider`` (``"manual"`` or ``"stripe"``), if any."""
    return db.scalar(
        select(PayoutAccount).where(
            PayoutAccount.creator_id == creator_id, PayoutAccount.provider == provider
        )
    )


def _apply_status(
    row: PayoutAccount,
    status: ProviderAccount,
    seen_at: datetime,
    *,
    state: PayoutAccountState | None = None,
) -> None:
    """Store what the provider says; ``state`` overrides the one derived from ``payable``."""
    row.state = state or _state_after(row, payable=status.payable)
    row.status_reason = status.details
    # updated_at doubles as "the moment of the provider state we last applied":
    # a webhook older than it is stale (see account_updated).
    row.updated_at = seen_at
    if status.payable and row.provider == "stripe" and (db := object_session(row)) is not None:
        # Stripe verified the person behind the account (Connect KYC): a verified creator.
        verification.verify_from_provider(db, row.creator_id, "Stripe", now=seen_at)


def _state_after(row: PayoutAccount, *, payable: bool) -> PayoutAccountState:
    """The state once the provider says ``payable``: an account that was cleared is paused."""
    if payable:
        return PayoutAccountState.PAYABLE
    if row.state in (PayoutAccountState.PAYABLE, PayoutAccountState.PAUSED):
        return PayoutAccountState.PAUSED
    return PayoutAccountState.ONBOARDING


def connect_account(
    db: Session,
    provider: PayoutProvider,
    creator: Creator,
    *,
    country: str = "US",
    now: datetime | None = None,
) -> PayoutAccount:
    """The creator's account at ``provider``, created there on first use (not yet payable).

    An account the creator disconnected at the provider is replaced by a new one.
    """
    row = payout_account(db, creator.id, provider.name)
    if row is not None and row.state == PayoutAccountState.DISCONNECTED:
        with unit_of_work(db):
            status = provider.create_account(
                creator_id=str(creator.id),
                email=creator.email or "",
                country=country,
                replaces=row.provider_account_id,
            )
            row.provider_account_id = status.provider_account_id
            row.state = PayoutAccountState.ONBOARDING  # a new account at the provider
            _apply_status(row, status, _now(now))
        return row
    if row is not None:
        return row
    try:
        with unit_of_work(db):
            status = provider.create_account(
                creator_id=str(creator.id), email=creator.email or "", country=country
            )
            row = PayoutAccount(
                creator_id=creator.id,
                provider=provider.name,
                provider_account_id=status.provider_account_id,
            )
            _apply_status(row, status, _now(now))
            db.add(row)
    except IntegrityError:
        # A second tab connected at the same time; the provider's idempotency
        # key gave both the same account.
        row = payout_account(db, creator.id, provider.name)
        if row is None:
            raise
    return row


def onboarding_link(
    db: Session,
    provider: PayoutProvider,
    creator: Creator,
    *,
    base_url: str,
    now: datetime | None = None,
) -> str:
    """A fresh onboarding URL for the signed-in creator (their account is created if needed).

    The refresh URL (an expired or used link) and the return URL are on this
    site and act on the signed-in creator only, so a link never carries an
    account id another creator could swap in.
    """
    row = connect_account(db, provider, creator, now=now)
    base = base_url.rstrip("/")
    link = provider.onboarding_link(
        row.provider_account_id,
        refresh_url=f"{base}{PAYOUTS_PATH}/refresh",
        return_url=f"{base}{PAYOUTS_PATH}/return",
    )
    if link is None:
        raise InvalidInput(
            f"the {provider.name} payout provider has no hosted onboarding; "
            "an admin records and verifies your payout method"
        )
    return link


def refresh_account(
    db: Session, provider: PayoutProvider, creator: Creator, *, now: datetime | None = None
) -> PayoutAccount | None:
    """Ask the provider whether the creator's account is payable now, and store the answer."""
    row = payout_account(db, creator.id, provider.name)
    if row is None or provider.name == "manual":
        return row  # a manual method is payable when an admin verified it, nothing to ask
    with unit_of_work(db):
        _apply_status(row, provider.account_status(row.provider_account_id), _now(now))
    return row
