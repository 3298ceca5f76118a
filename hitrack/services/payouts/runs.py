"""Payout runs: choose the candidates, hold each balance, send, finish or fail the run."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hitrack.db.models import (
    Creator,
    CreatorVerification,
    LedgerAccount,
    Payout,
    PayoutAccount,
    PayoutAccountState,
    PayoutRun,
)
from hitrack.domain.errors import NotFound
from hitrack.domain.money import (
    MAX_ACCOUNT_MICROS,
    format_micros,
    to_minor_units,
    whole_minor_units,
)
from hitrack.payments.base import (
    PayoutProvider,
    TransferRequest,
)
from hitrack.services import ledger
from hitrack.services.payouts.accounts import payout_account
from hitrack.services.payouts.closing import _skipped
from hitrack.services.payouts.core import payout_key, require_admin
from hitrack.services.unit_of_work import set_rollback, unit_of_work


@dataclass(frozen=True)
class Candidate:
    """A creator and currency a run would pay, and how much (whole minor units, in micros)."""

    creator_id: int
    currency: str
    amount: int
    #: Why the run may not pay this one ("" when it may): recorded on the run.
    refused: str = ""


def candidates(db: Session, provider: str, minimums: Mapping[str, int]) -> list[Candidate]:
    """Who a run would pay now: a payable account with ``provider`` and a balance at the minimum.

    A balance beyond the account cap (left by an earlier version that had no
    cap) is not paid: the candidate carries the reason, the run records it,
    and ``hitrack ledger check`` reports the account.
    """
    payable_creators = select(PayoutAccount.creator_id).where(
        PayoutAccount.provider == provider,
        PayoutAccount.state == PayoutAccountState.PAYABLE,
        # Only verified creators are paid (DESIGN section 1); the others' balances wait.
        PayoutAccount.creator_id.in_(select(CreatorVerification.creator_id)),
    )
    rows = db.execute(
        select(LedgerAccount.creator_id, LedgerAccount.currency, LedgerAccount.balance)
        .where(
            LedgerAccount.kind == "creator_payable", LedgerAccount.creator_id.in_(payable_creators)
        )
        .order_by(LedgerAccount.creator_id, LedgerAccount.currency)
    )
    found = []
    for creator_id, currency, balance in rows:
        if creator_id is None:
            continue
        owed = -int(balance)
        minimum = minimums.get(currency)
        if minimum is None:
            # Only currencies with a minimum are paid; a balance in another is not
            # dropped in silence: the run records it, and the admin sees why.
            if whole_minor_units(min(owed, MAX_ACCOUNT_MICROS), currency) > 0:
                found.append(Candidate(int(creator_id), currency, 0, no_minimum_reason(currency)))
            continue
        if abs(owed) > MAX_ACCOUNT_MICROS:
            reason = (
                f"balance beyond the account cap of {MAX_ACCOUNT_MICROS} micros; not paid "
                "until an admin corrects the account (hitrack ledger check lists it)"
            )
            found.append(Candidate(int(creator_id), currency, 0, reason))
            continue
        amount = whole_minor_units(owed, currency)
        if amount > 0 and amount >= minimum:
            found.append(Candidate(int(creator_id), currency, amount))
    return found


def unpaid_currencies(db: Session, creator_id: int, minimums: Mapping[str, int]) -> list[str]:
    """The currencies the creator holds a balance in that no run pays (no minimum is set)."""
    return sorted(
        currency
        for currency, owed in ledger.creator_balances(db, creator_id).items()
        if currency not in minimums and whole_minor_units(owed, currency) > 0
    )


def no_minimum_reason(currency: str) -> str:
    """Why a balance in ``currency`` is not paid when the operator set no minimum for it."""
    return (
        f"no payout minimum is set for {currency}, so {currency} balances are not paid: "
        f"add one to HITRACK_PAYOUT_MINIMUM (e.g. {currency}:10.00)"
    )


def new_run_id(now: datetime) -> str:
    return f"run_{now:%Y%m%d%H%M%S}_{secrets.token_hex(4)}"


def _lock_payable(db: Session, creator_id: int, currency: str) -> None:
    account = ledger.get_account(db, ledger.payable_account(creator_id, currency))
    if db.get_bind().dialect.name == "postgresql":
        # Serialises runs per creator and currency: the second waits here and
        # then reads the balance the first one's hold already reduced.
        db.execute(select(LedgerAccount.id).where(LedgerAccount.id == account.id).with_for_update())


def _hold(db: Session, run: PayoutRun, candidate: Candidate, minimum: int) -> Payout | None:
    """Payout row and ledger hold in one committed transaction; None when nothing is to hold."""
    creator_id, currency = candidate.creator_id, candidate.currency
    with unit_of_work(db):
        _lock_payable(db, creator_id, currency)
        # Read again under the lock: another run may have held it meanwhile.
        amount = whole_minor_units(
            ledger.creator_balances(db, creator_id).get(currency, 0), currency
        )
        if amount <= 0 or amount < minimum:
            set_rollback(db)
            return None
        key = payout_key(run, creator_id, currency)
        try:
            with db.begin_nested():
                payout = Payout(
                    run_id=run.id,
                    creator_id=creator_id,
                    currency=currency,
                    amount=amount,
                    idempotency_key=key,
                    status="pending",
                )
                db.add(payout)
                db.flush()
        except IntegrityError:  # a payout for this creator and currency is already in flight
            set_rollback(db)
            return None
        hold = ledger.post_transaction(
            db,
            f"payout-hold:{key}",
            "payout_hold",
            ledger.payout_hold_postings(creator_id, currency, amount),
            f"Payout {format_micros(amount, currency)} {currency} held while the transfer is sent (run {run.public_id})",
        )
        payout.hold_transaction_id = hold.id
    return payout


def _skip(db: Session, run: PayoutRun, candidate: Candidate, reason: str) -> None:
    """Record on the run that a creator was not paid, and why (there is no payout row to carry it)."""
    skipped = _skipped(run)
    skipped.append(
        {"creator_id": candidate.creator_id, "currency": candidate.currency, "reason": reason}
    )
    with unit_of_work(db):
        run.summary = {**run.summary, "skipped": skipped}


def _start_run(
    db: Session,
    provider: PayoutProvider,
    started_by: Creator | None,
    at: datetime,
    run_id: str | None = None,
) -> PayoutRun:
    if started_by is not None:
        require_admin(started_by, "start a payout run")
    run = PayoutRun(
        public_id=run_id or new_run_id(at),
        provider=provider.name,
        status="running",
        started_by_id=started_by.id if started_by else None,
        started_at=at,
        summary={},
    )
    with unit_of_work(db):
        db.add(run)
    return run


def transfer_request(db: Session, payout: Payout, run: PayoutRun) -> TransferRequest:
    """What the provider is asked for this payout (minor units only here, at the boundary)."""
    account = payout_account(db, payout.creator_id, run.provider)
    if account is None:
        raise NotFound(f"creator {payout.creator_id} has no {run.provider} payout account")
    return TransferRequest(
        idempotency_key=payout.idempotency_key,
        amount_minor=to_minor_units(payout.amount, payout.currency),
        currency=payout.currency.lower(),
        destination=account.provider_account_id,
        transfer_group=run.public_id,
        metadata={"payout_id": str(payout.id), "creator_id": str(payout.creator_id)},
    )


def run_summary_line(run: PayoutRun) -> str:
    """One line: how many payouts, per status, and the amounts paid."""
    counts = _int_map(run.summary.get("counts"))
    raw_amounts = run.summary.get("amounts")
    amounts = (
        {k: _int_map(v) for k, v in raw_amounts.items()} if isinstance(raw_amounts, dict) else {}
    )
    total = sum(counts.values())
    parts = [
        f"{counts.get(s, 0)} {s}"
        for s in ("paid", "pending", "failed", "reversed")
        if counts.get(s)
    ]
    skipped = len(_skipped(run))
    paid = ", ".join(
        f"{format_micros(v, c)} {c}" for c, v in sorted((amounts.get("paid") or {}).items())
    )
    return (
        f"payout run {run.public_id}: {total} payouts"
        + (f" ({', '.join(parts)})" if parts else "")
        + (f"; paid {paid}" if paid else "")
        + (f"; {skipped} not paid (see the run)" if skipped else "")
        + (f"; FAILED: {run.failure_reason}" if run.status == "failed" else "")
    )


def _int_map(value: object) -> dict[str, int]:
    if not isinstance(value, dict):
        return {}
    return {str(k): int(v) for k, v in value.items() if isinstance(v, int)}
