"""Payout runs: choose the candidates, hold each balance, send, finish or fail the run."""

from __future__ import annotations

import secrets
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
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
    TransferOutcome,
    TransferRequest,
    TransferResult,
)
from hitrack.services import ledger
from hitrack.services.notifications import Mailer
from hitrack.services.payouts.accounts import payout_account
from hitrack.services.payouts.closing import _skipped
from hitrack.services.payouts.core import _now, log, payout_key, require_admin
from hitrack.services.payouts.reconcile import reconcile
from hitrack.services.payouts.results import _note, _problem, apply_result
from hitrack.services.unit_of_work import read_only, set_rollback, unit_of_work


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


def open_run(
    db: Session,
    provider: PayoutProvider,
    *,
    started_by: Creator | None,
    minimums: Mapping[str, int],
    now: datetime | None = None,
    run_id: str | None = None,
) -> PayoutRun:
    """Start a run: record it, reconcile what earlier runs left pending, then hold every payout.

    ``started_by`` must be an admin (``None``: the system, e.g. the CLI).
    Each payout is committed with its hold before :func:`send_run` calls the
    provider. A hold that cannot be made (one creator's trouble) is recorded
    in the run's summary under ``skipped`` and the others are still held.
    Use :func:`run_payouts`, which also ends a run that crashes as ``failed``.
    """
    run = _start_run(db, provider, started_by, _now(now), run_id)
    _hold_all(db, provider, run, minimums, run.started_at)
    return run


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


def _hold_all(
    db: Session,
    provider: PayoutProvider,
    run: PayoutRun,
    minimums: Mapping[str, int],
    at: datetime,
) -> None:
    reconcile(db, provider, now=at)
    with read_only(db):  # each hold below is its own transaction
        found = candidates(db, provider.name, minimums)
    for candidate in found:
        if candidate.refused:
            _skip(db, run, candidate, candidate.refused)
            continue
        try:
            _hold(db, run, candidate, minimums[candidate.currency])
        except Exception as error:  # one creator's hold must not stop the others
            log.exception("payout run %s: hold for creator %s failed", run.public_id, candidate)
            _skip(db, run, candidate, f"could not hold the payout: {_problem(error)}")


def _claim(db: Session, payout: Payout, now: datetime) -> bool:
    """Mark the payout as being sent now (reconcile leaves it alone for SETTLE_GRACE)."""
    with unit_of_work(db):  # committed before the provider is called
        result = db.execute(
            update(Payout)
            .where(Payout.id == payout.id, Payout.status == "pending")
            .values(updated_at=now)
            .execution_options(synchronize_session=False)
        )
    return bool(getattr(result, "rowcount", 0))


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


def send_run(
    db: Session,
    provider: PayoutProvider,
    run: PayoutRun,
    *,
    mailer: Mailer | None = None,
    now: datetime | None = None,
) -> Iterator[Payout]:
    """Send each pending payout of the run and settle it; yields each payout once handled.

    One payout's failure never stops the run. Before the provider is called
    (no payout account, a request that cannot be built) the hold is voided
    and the payout ends ``failed`` with the reason; if the provider call or
    the settling raises, nobody knows whether money moved, so the payout
    stays ``pending`` with the reason and :func:`reconcile` settles it by
    looking the transfer up, never by sending again.
    """
    with read_only(db):
        ids = list(
            db.scalars(
                select(Payout.id)
                .where(Payout.run_id == run.id, Payout.status == "pending")
                .order_by(Payout.id)
            )
        )
    for payout_id in ids:
        payout = db.get(Payout, payout_id)
        if payout is None or not _claim(db, payout, _now(now)):
            continue  # settled meanwhile (a webhook, a reconcile)
        yield _send_one(db, provider, run, payout, mailer)


def _send_one(
    db: Session, provider: PayoutProvider, run: PayoutRun, payout: Payout, mailer: Mailer | None
) -> Payout:
    try:
        with read_only(db):  # not held open over the provider call
            request = transfer_request(db, payout, run)
    except Exception as error:
        log.exception("payout %s: no transfer request", payout.idempotency_key)
        failed = TransferResult(
            TransferOutcome.FAILED, None, f"not sent: {_problem(error)}"
        )  # the provider was never called: the money goes back to the balance
        return apply_result(db, payout, failed, mailer=mailer)
    try:
        result = provider.send_transfer(request)
    except Exception as error:
        log.exception("payout %s: the provider call raised", payout.idempotency_key)
        result = TransferResult(
            TransferOutcome.UNKNOWN,
            None,
            f"the provider call raised {_problem(error)}; reconcile looks the transfer up",
        )
    try:
        return apply_result(db, payout, result, mailer=mailer)
    except Exception as error:  # apply_result's unit of work has rolled back
        log.exception("payout %s: settling the provider's answer failed", payout.idempotency_key)
        return _note(db, payout, f"settling the provider's answer failed: {_problem(error)}")


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
